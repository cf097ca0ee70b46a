/**
 * Chaos tier: three cluster-mode gateway nodes on a private Redis (AOF, fsync always), a private
 * etcd and a private single-node KRaft Kafka; ~30 users (10 with links on two nodes) get a
 * stream of Kafka pushes while links close and reconnect with `?resume=`, during each fault.
 * Checks "What an open link promises" (docs/protocol.md) and that the cluster heals (ready
 * nodes, an exact directory). Prints a table; exits 1 on a FAIL, with the evidence.
 *
 *   node dist/test/chaos/chaos.js            (scripts/chaos.js builds first)
 *   CHAOS_CASES=1,3   only some cases;  CHAOS_SHARED_SERVICES=1  use scripts/deps.sh's Kafka/etcd (CI only)
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import { Kafka, logLevel, Producer } from 'kafkajs';
import { http, metricValueOr, scrape } from '../fixtures/admin';
import { ADMIN_TOKEN, GatewayProcess, ROOT, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { PrivateRedis, startPrivateRedis } from '../fixtures/redis-server';
import { ChaosLink, Seen } from './links';
import { Service, startPrivateEtcd, startPrivateKafka } from './services';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const USERS = Number(process.env.CHAOS_USERS ?? 30);
const TWO_LINK_USERS = 10;
const NODES = 3;
const PARTITIONS = 6;
const RATE_PER_TICK = 4; // pushes per 50 ms tick: ~80/s
const READY_BOUND_MS = Number(process.env.CHAOS_READY_BOUND_MS ?? 20000);
const DIRECTORY_BOUND_MS = Number(process.env.CHAOS_DIRECTORY_BOUND_MS ?? 5000);
/** the nodes' etcd lease: a SIGKILLed node leaves etcd when it ends */
const LEASE_TTL_SEC = 3;
/**
 * a SIGKILLed node cannot remove its own sessions: the others drop them once its lease ended and
 * two sweeps (one reconcile interval apart) found it missing, so case 6 gets that much more
 */
const DEAD_NODE_EXTRA_MS = LEASE_TTL_SEC * 1000 + 2 * 1000;
const directoryBound = (caseId: number) => DIRECTORY_BOUND_MS + (caseId === 6 ? DEAD_NODE_EXTRA_MS : 0);
const DRAIN_MS = 25000;
const RUN_DEADLINE_MS = Number(process.env.CHAOS_DEADLINE_MS ?? 300000);
const SHARED = process.env.CHAOS_SHARED_SERVICES === '1';
const BIZ = 'chaos';

interface Acked {
  mid: string;
  user: string;
  at: number;
}

interface CaseResult {
  id: number;
  name: string;
  produced: number;
  sendFailures: number;
  expected: number;
  delivered: number;
  lost: number;
  lostDetail: string[];
  duplicates: number;
  dupDetail: string[];
  replaysDropped: number;
  gaps: number;
  gapDetail: string[];
  resyncs: number;
  resyncsJustified: number;
  resyncDetail: string[];
  unackedDelivered: number;
  reconnects: number;
  readyMs: number | null;
  directoryMs: number | null;
  directoryDetail: string;
  extra: string[];
  fails: string[];
}

type Faults = {
  redis: PrivateRedis;
  aofDir: string;
  etcd: Service;
  kafka: Service & { brokers: string[] };
};

// on SIGTERM/SIGINT exit through process.exit, so the fixtures' exit hooks SIGKILL the nodes and services this run started
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => process.exit(130));

async function main() {
  const started = Date.now();
  const runDeadline = setTimeout(() => {
    console.error(`FAIL: the chaos run passed its ${RUN_DEADLINE_MS} ms bound`);
    process.exit(1);
  }, RUN_DEADLINE_MS);
  runDeadline.unref();

  const aofDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-redis-'));
  const [redis, etcd, kafka] = await Promise.all([
    startPrivateRedis(undefined, { aofDir }),
    SHARED ? sharedEtcd() : startPrivateEtcd(),
    SHARED ? sharedKafka() : startPrivateKafka(),
  ]);
  const f: Faults = { redis, aofDir, etcd, kafka };
  // also when interrupted: the data dirs of the private services go with the run
  process.once('exit', () => {
    fs.rmSync(aofDir, { recursive: true, force: true });
    if (!SHARED) [etcd, kafka].forEach((svc) => svc.remove());
  });
  console.log(
    `services up in ${Date.now() - started} ms: redis ${redis.url} (AOF ${aofDir}), etcd ${etcd.url}, kafka ${kafka.brokers[0]}${SHARED ? ' (shared)' : ''}`,
  );

  const iso = uniquePrefixes('chaos');
  const env: Record<string, string> = {
    ...iso,
    GATEWAY_REDIS_URL: redis.url,
    GATEWAY_ETCD_ENDPOINTS: etcd.url,
    GATEWAY_KAFKA_BROKERS: kafka.brokers.join(','),
    GATEWAY_PUSH_PARTITIONS: String(PARTITIONS),
    GATEWAY_SESSION_RECONCILE_INTERVAL_MS: '1000',
    GATEWAY_ETCD_LEASE_TTL_SEC: String(LEASE_TTL_SEC),
    GATEWAY_UPGRADER_RATE_PER_IP: '10000',
    GATEWAY_LOG_LEVEL: 'info',
  };
  if (SHARED) {
    const run = randomUUID().slice(0, 8);
    env.GATEWAY_PUSH_TOPIC = `chaos-push-${run}`;
    env.GATEWAY_PUSH_DLQ_TOPIC = `chaos-push-${run}.dlq`;
    env.GATEWAY_PUSH_EVENTS_TOPIC = `chaos-push-${run}.events`;
  }
  const topic = env.GATEWAY_PUSH_TOPIC ?? 'gateway.push';
  const nodes: GatewayProcess[] = await Promise.all(Array.from({ length: NODES }, () => startGateway(env, { readyTimeoutMs: 40000 })));
  await until('every partition assigned', 60000, async () => {
    const got = await Promise.all(nodes.map(async (n) => metricValueOr(await scrape(n.adminUrl), 'websocket_gateway_kafka_assigned_partitions', {}, 0)));
    return got.reduce((a, b) => a + b, 0) === PARTITIONS;
  });
  console.log(`3 nodes up and consuming ${topic} after ${Date.now() - started} ms`);

  const k = new Kafka({
    brokers: kafka.brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const only = process.env.CHAOS_CASES ? new Set(process.env.CHAOS_CASES.split(',').map(Number)) : undefined;
  const cases: { id: number; name: string; fault: (ctx: Ctx) => Promise<void>; mailboxLost?: boolean }[] = [
    {
      id: 1,
      name: 'Redis kill -9, restart with AOF',
      fault: async () => {
        await f.redis.kill('SIGKILL');
        await sleep(2000);
        await f.redis.restart();
      },
    },
    {
      id: 2,
      name: 'Redis drops the pub/sub connections',
      fault: async () => {
        // as Redis does to a subscriber past its output-buffer limit; each one makes every node refill all its links
        for (let i = 0; i < 6; i++) {
          const cli = new Redis(f.redis.url, { maxRetriesPerRequest: 1 });
          try {
            await cli.client('KILL', 'TYPE', 'pubsub');
          } finally {
            cli.disconnect();
          }
          await sleep(400);
        }
      },
    },
    {
      id: 3,
      name: 'Redis keeps nothing: kill, AOF removed, start',
      mailboxLost: true,
      fault: async () => {
        await f.redis.kill('SIGKILL');
        fs.rmSync(path.join(f.aofDir, 'appendonlydir'), { recursive: true, force: true });
        await sleep(1000);
        await f.redis.restart();
      },
    },
    {
      id: 4,
      name: 'Kafka broker stopped and started',
      fault: async () => {
        await f.kafka.stop();
        await sleep(3000);
        await f.kafka.start();
      },
    },
    {
      id: 5,
      name: 'etcd stopped and started',
      fault: async () => {
        await f.etcd.stop();
        await sleep(3000);
        await f.etcd.start();
      },
    },
    {
      id: 6,
      name: 'one gateway node SIGKILLed',
      fault: async (ctx) => {
        const victim = ctx.nodes[2];
        ctx.dead.add(victim.nodeId);
        await victim.stop('SIGKILL');
      },
    },
  ];

  const results: CaseResult[] = [];
  for (const c of cases) {
    if (only && !only.has(c.id)) continue;
    const r = await runCase(c, nodes, k, topic, started, { url: f.redis.url, prefix: iso.GATEWAY_REDIS_KEY_PREFIX });
    results.push(r);
    printCase(r);
  }

  // cleanup
  await Promise.all(nodes.filter((n) => !n.exited).map((n) => n.stop('SIGTERM')));
  await redis.kill();
  if (!SHARED) {
    await Promise.all([etcd.stop(), kafka.stop()]);
    etcd.remove();
    kafka.remove();
  }
  fs.rmSync(aofDir, { recursive: true, force: true });

  printTable(results);
  const failed = results.filter((r) => r.fails.length);
  console.log(
    `chaos: ${results.length} cases in ${((Date.now() - started) / 1000).toFixed(1)} s; ${failed.length ? `FAIL (${failed.map((r) => r.id).join(', ')})` : 'PASS'}`,
  );
  return failed.length ? 1 : 0;
}

interface Ctx {
  nodes: GatewayProcess[];
  dead: Set<string>;
}

const deadNodes = new Set<string>();

async function runCase(
  c: { id: number; name: string; fault: (ctx: Ctx) => Promise<void>; mailboxLost?: boolean },
  nodes: GatewayProcess[],
  k: Kafka,
  topic: string,
  runStart: number,
  store: { url: string; prefix: string },
): Promise<CaseResult> {
  console.log(`\n== case ${c.id}: ${c.name}  (t=${((Date.now() - runStart) / 1000).toFixed(1)} s)`);
  const live = () => nodes.filter((n) => !deadNodes.has(n.nodeId) && !n.exited);
  const pick = (preferred?: string) => {
    const l = live();
    return l.find((n) => n.nodeId === preferred) ?? l[Math.floor(Math.random() * l.length)];
  };
  // where each user's pushes were seen (any link of the user): mid -> (epoch, seq)
  const positions = new Map<string, Seen>();
  const links: ChaosLink[] = [];
  const users = Array.from({ length: USERS }, (_, i) => `c${c.id}-u${String(i).padStart(2, '0')}`);
  users.forEach((u, i) => {
    const count = i < TWO_LINK_USERS ? 2 : 1;
    for (let j = 0; j < count; j++) {
      const home = nodes[(i + j) % nodes.length].nodeId;
      const link = new ChaosLink(
        u,
        BIZ,
        `${u}-d${j}`,
        (pref) => pick(pref),
        (s) => positions.set(s.mid, s),
      );
      (link as any).home = home;
      links.push(link);
    }
  });
  const connecting = Promise.all(links.map((l) => l.connect((l as any).home)));
  const slow = setTimeout(() => {
    const r: Record<string, number> = {};
    for (const l of links) for (const [kk, v] of Object.entries(l.refusals)) r[kk] = (r[kk] ?? 0) + v;
    console.log(`links still connecting after 10 s: ${links.filter((l) => !l.open).length}; refusals ${JSON.stringify(r)}`);
  }, 10000);
  await connecting;
  clearTimeout(slow);
  const spread = live().map((n) => links.filter((l) => l.node === n.nodeId).length);

  // the producer: ~80 pushes/s, one send at a time (acks=-1); only acknowledged ones count
  let producer: Producer = k.producer({ allowAutoTopicCreation: false, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 } });
  await producer.connect();
  const acked: Acked[] = [];
  const attempted = new Set<string>();
  let sendFailures = 0;
  let producing = true;
  let n = 0;
  const producerLoop = (async () => {
    let failuresInRow = 0;
    while (producing) {
      const batch = Array.from({ length: RATE_PER_TICK }, () => {
        const user = users[Math.floor(Math.random() * users.length)];
        return { user, mid: `c${c.id}-${n++}` };
      });
      for (const b of batch) attempted.add(b.mid);
      try {
        await producer.send({
          topic,
          acks: -1,
          timeout: 3000,
          messages: batch.map((b) => ({ key: b.user, value: JSON.stringify({ mid: b.mid, bizId: BIZ, to: { users: [b.user] }, body: { mid: b.mid } }) })),
        });
        const at = Date.now();
        for (const b of batch) acked.push({ ...b, at });
        failuresInRow = 0;
      } catch {
        sendFailures += batch.length;
        if (++failuresInRow >= 3) {
          // a producer whose broker went away may stay wedged: start a new one
          await producer.disconnect().catch(() => undefined);
          producer = k.producer({ allowAutoTopicCreation: false, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 } });
          await producer.connect().catch(() => undefined);
          failuresInRow = 0;
        }
        await sleep(200);
      }
      await sleep(50);
    }
  })();

  // churn: a random link closes (a close handshake or the network gone) and comes back with resume
  let churning = true;
  let drops = 0;
  const churn = (async () => {
    while (churning) {
      await sleep(250);
      const open = links.filter((l) => l.open);
      if (!open.length) continue;
      open[Math.floor(Math.random() * open.length)].drop(Math.random() < 0.5);
      drops++;
    }
  })();

  await sleep(2500);
  const faultStart = Date.now();
  const ctx: Ctx = { nodes, dead: deadNodes };
  await c.fault(ctx);
  const faultEnd = Date.now();
  console.log(`fault took ${faultEnd - faultStart} ms; links per node at start ${spread.join('/')}`);
  churning = false;
  await churn;

  // recovery: every live node ready, then the directory lists exactly the open links
  let readyMs: number | null = null;
  let directoryMs: number | null = null;
  let directoryDetail = '';
  let recoveryDeadline = faultEnd + READY_BOUND_MS + 2000;
  while (Date.now() < recoveryDeadline) {
    const l = live();
    if (readyMs === null) {
      const st = await Promise.all(
        l.map((node) =>
          http(`${node.adminUrl}/health/ready`, {}, 2000).then(
            (r) => r.status,
            () => 0,
          ),
        ),
      );
      if (st.every((s) => s === 200)) {
        readyMs = Date.now() - faultEnd;
        recoveryDeadline = Date.now() + directoryBound(c.id) + 2000;
      } else directoryDetail = `not ready: ${l.map((node, i) => `${node.nodeId}=${st[i]}`).join(' ')}`;
    }
    if (readyMs !== null) {
      const node = l[Math.floor(Math.random() * l.length)];
      const want = new Set(links.filter((x) => x.open).map((x) => x.sid!));
      const listed = await listClients(node.adminUrl).catch((err: Error) => err);
      if (listed instanceof Error) directoryDetail = `${node.nodeId}: ${listed.message}`;
      else {
        const have = new Set(listed.map((s) => s.sid));
        const missing = [...want].filter((s) => !have.has(s));
        const extra = listed.filter((s) => !want.has(s.sid));
        const stillConnecting = links.some((x) => !x.open);
        if (!missing.length && !extra.length && !stillConnecting) {
          directoryMs = Date.now() - faultEnd;
          directoryDetail = `${want.size} links listed by ${node.nodeId}`;
          break;
        }
        directoryDetail = `GET /api/clients on ${node.nodeId} lists ${have.size}, open links ${want.size}: missing ${missing.length} [${missing.slice(0, 3).join(' ')}], extra ${extra.length} [${extra
          .slice(0, 3)
          .map((s) => `${s.sid}@${s.node}`)
          .join(' ')}]${stillConnecting ? `, ${links.filter((x) => !x.open).length} links still reconnecting` : ''}`;
      }
    }
    await sleep(100);
  }

  // more pushes after the recovery, then stop and let every link catch up
  await sleep(2000);
  producing = false;
  await producerLoop;
  await producer.disconnect().catch(() => undefined);
  const byUser = new Map<string, Acked[]>();
  for (const a of acked) (byUser.get(a.user) ?? byUser.set(a.user, []).get(a.user)!).push(a);
  const covered = (l: ChaosLink, mid: string) => {
    const p = positions.get(mid);
    for (const r of l.resyncs) {
      if (!p) {
        if (r.reason === 'epoch_changed') return true;
        continue;
      }
      const fromPrev = (r.prev.epoch === p.epoch || r.prev.epoch === null || r.prev.epoch === '') && p.seq > (r.prev.epoch === p.epoch ? r.prev.seq : 0);
      if (fromPrev && (r.epoch !== p.epoch || p.seq <= r.seq)) return true;
      if (r.epoch === p.epoch && p.seq <= r.seq && !(r.prev.epoch === p.epoch && p.seq <= r.prev.seq)) return true;
    }
    return false;
  };
  const missingOf = (l: ChaosLink) => (byUser.get(l.user) ?? []).filter((a) => !l.seen.has(a.mid) && !covered(l, a.mid));
  const drainUntil = Date.now() + DRAIN_MS;
  let learned = false;
  while (Date.now() < drainUntil && links.some((l) => missingOf(l).length)) {
    await sleep(200);
    if (!learned && Date.now() > drainUntil - DRAIN_MS + 3000) {
      // pushes no link has seen: where the mailbox put them decides whether a resync covered them
      learned = true;
      for (const [mid, p] of await readMailboxes(store, users).catch(() => new Map<string, Seen>())) if (!positions.has(mid)) positions.set(mid, p);
    }
  }
  await sleep(500); // late duplicates show up here
  await Promise.all(links.map((l) => l.stop()));
  // what the mailbox holds now: the (epoch, seq) of every stored push, also of those no link got
  const stored = await readMailboxes(store, users).catch((err: Error) => {
    console.log(`  (mailbox not readable: ${err.message})`);
    return new Map<string, Seen>();
  });
  const storedByUser = new Map<string, Seen[]>();
  for (const [mid, p] of stored) {
    if (!positions.has(mid)) positions.set(mid, p);
    const u = (p as any).user as string;
    (storedByUser.get(u) ?? storedByUser.set(u, []).get(u)!).push(p);
  }

  // figures
  const r: CaseResult = {
    id: c.id,
    name: c.name,
    produced: acked.length,
    sendFailures,
    expected: 0,
    delivered: 0,
    lost: 0,
    lostDetail: [],
    duplicates: 0,
    dupDetail: [],
    replaysDropped: 0,
    gaps: 0,
    gapDetail: [],
    resyncs: 0,
    resyncsJustified: 0,
    resyncDetail: [],
    unackedDelivered: 0,
    reconnects: 0,
    readyMs,
    directoryMs,
    directoryDetail,
    extra: [],
    fails: [],
  };
  const ackedSet = new Set(acked.map((a) => a.mid));
  const unjustified: string[] = [];
  for (const l of links) {
    const want = byUser.get(l.user) ?? [];
    r.expected += want.length;
    r.delivered += want.filter((a) => l.seen.has(a.mid)).length;
    for (const m of l.seen.keys()) if (!ackedSet.has(m)) r.unackedDelivered += attempted.has(m) ? 1 : 0;
    const lost = missingOf(l);
    r.lost += lost.length;
    for (const a of lost.slice(0, 3)) {
      const p = positions.get(a.mid);
      r.lostDetail.push(
        `${l.label}: mid ${a.mid} (acked at +${a.at - faultStart} ms from fault start; ${p ? `stored as ${p.epoch}:${p.seq}, seen by another link` : 'seen by no link of the user'}); link cursor at end ${l.cursor.epoch}:${l.cursor.seq}, connects ${l.connects}, resyncs ${l.resyncs.length}`,
      );
    }
    r.replaysDropped += l.replaysDropped;
    r.reconnects += Math.max(0, l.connects - 1);
    for (const a of l.anomalies) {
      const what = `${l.label} on ${a.node} (sid ${a.sid}): ${a.kind} mid ${a.mid} as ${a.got.epoch}:${a.got.seq} after cursor ${a.cursor.epoch}:${a.cursor.seq} at +${a.at - faultStart} ms from fault start`;
      if (a.kind === 'gap') {
        r.gaps++;
        if (r.gapDetail.length < 5) r.gapDetail.push(what);
      } else {
        r.duplicates++;
        const first = l.seen.get(a.mid)!;
        if (r.dupDetail.length < 5) r.dupDetail.push(`${what}; first seen as ${first.epoch}:${first.seq} on sid ${first.sid}`);
      }
    }
    for (const rs of l.resyncs) {
      r.resyncs++;
      // the range (prev, (epoch, seq)] is lost: was the mailbox really unable to give it?
      const inRange = (byUser.get(l.user) ?? [])
        .map((a) => positions.get(a.mid))
        .filter((p): p is Seen => !!p)
        .filter(
          (p) =>
            (p.epoch === rs.prev.epoch && p.seq > rs.prev.seq && (rs.epoch !== p.epoch || p.seq <= rs.seq)) ||
            (p.epoch === rs.epoch && p.seq <= rs.seq && p.epoch !== rs.prev.epoch),
        );
      const newStreamClaimedLost = inRange.filter((p) => p.epoch === rs.epoch && p.seq <= rs.seq);
      // entries the mailbox still holds inside the range the resync declared lost
      const heldInRange = (storedByUser.get(l.user) ?? []).filter(
        (p) =>
          (p.epoch === rs.prev.epoch && p.seq > rs.prev.seq && (rs.epoch !== p.epoch || p.seq <= rs.seq)) ||
          (p.epoch === rs.epoch && p.seq <= rs.seq && p.epoch !== rs.prev.epoch),
      );
      const justified =
        heldInRange.length === 0 && (rs.reason === 'epoch_changed' ? !!c.mailboxLost && newStreamClaimedLost.length === 0 : rs.reason === 'gap_too_old');
      if (!justified)
        unjustified.push(
          `${l.label} on ${l.node}: resync ${rs.reason} ${rs.epoch}:${rs.seq} after cursor ${rs.prev.epoch}:${rs.prev.seq} at +${rs.at - faultStart} ms, but the mailbox holds ${heldInRange.map((p) => `${p.epoch}:${p.seq} (${p.mid})`).join(', ') || 'the range (Redis kept its data)'}`,
        );
      if (justified) r.resyncsJustified++;
      if (r.resyncDetail.length < 5)
        r.resyncDetail.push(
          `${l.label} sid ${rs.sid}: resync ${rs.reason} ${rs.epoch}:${rs.seq} after cursor ${rs.prev.epoch}:${rs.prev.seq} at +${rs.at - faultStart} ms; covers ${inRange.length} known pushes${
            newStreamClaimedLost.length ? `, of which ${newStreamClaimedLost.length} of the new stream that links did receive` : ''
          } -> ${justified ? 'matches a mailbox loss' : c.mailboxLost ? 'claims more than the mailbox lost' : 'the mailbox kept its data: not justified'}`,
        );
    }
  }
  r.extra.push(`links ${links.length} (per node at start ${spread.join('/')}), closes made ${drops}, send failures ${sendFailures}`);
  const refusals: Record<string, number> = {};
  for (const l of links) for (const [kk, v] of Object.entries(l.refusals)) refusals[kk] = (refusals[kk] ?? 0) + v;
  if (Object.keys(refusals).length) r.extra.push(`reconnect attempts refused: ${JSON.stringify(refusals)}`);
  const closes: Record<string, number> = {};
  for (const l of links) for (const [kk, v] of Object.entries(l.closes)) closes[kk] = (closes[kk] ?? 0) + v;
  r.extra.push(`link closes by code: ${JSON.stringify(closes)}`);

  if (r.lost) r.fails.push(`lost ${r.lost}: ${r.lostDetail.join(' | ')}`);
  if (r.gaps) r.fails.push(`gaps ${r.gaps}: ${r.gapDetail.join(' | ')}`);
  if (r.duplicates) r.fails.push(`duplicates not dropped by seq ${r.duplicates}: ${r.dupDetail.join(' | ')}`);
  if (readyMs === null || readyMs > READY_BOUND_MS)
    r.fails.push(`nodes not all ready within ${READY_BOUND_MS} ms of the fault's end (${readyMs ?? 'never'}): ${directoryDetail}`);
  if (directoryMs === null || readyMs === null || directoryMs - readyMs > directoryBound(c.id))
    r.fails.push(
      `directory not exact within ${directoryBound(c.id)} ms of the nodes being ready (ready ${readyMs ?? 'never'} ms, exact ${directoryMs ?? 'never'} ms after the fault): ${directoryDetail}`,
    );
  if (r.produced === 0) r.fails.push('nothing was produced');
  if (unjustified.length)
    r.fails.push(
      `${unjustified.length} resyncs declared lost what the mailbox still held (a needless loss for the client): ${unjustified.slice(0, 4).join(' | ')}`,
    );

  // case 6: the orchestrator restarts the killed node (same id); see whether that heals the directory
  if (c.id === 6 && directoryMs === null) {
    const victim = nodes[2];
    const t0 = Date.now();
    try {
      const again = await startGateway({ ...victim.env }, { readyTimeoutMs: 40000 });
      nodes[2] = again;
      deadNodes.delete(victim.nodeId);
      const healed = await until('directory without the dead links', 15000, async () => {
        const listed = await listClients(again.adminUrl);
        return listed.length === 0;
      }).then(
        () => true,
        () => false,
      );
      r.extra.push(
        `after restarting ${victim.nodeId} with the same id: directory ${healed ? `healed ${Date.now() - t0} ms after the restart began` : 'still not empty'}`,
      );
    } catch (err) {
      r.extra.push(`restart of ${victim.nodeId} failed: ${(err as Error).message.slice(0, 200)}`);
    }
  }
  return r;
}

/** Every case user's stream as stored now: mid -> (epoch, seq). Key layout: src/infra/redis/redis-mailbox.ts. */
async function readMailboxes(store: { url: string; prefix: string }, users: string[]): Promise<Map<string, Seen>> {
  const cli = new Redis(store.url, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
  const out = new Map<string, Seen>();
  try {
    for (const u of users) {
      const key = `${encodeURIComponent(BIZ)}:${encodeURIComponent(u)}`;
      const [[, epoch], [, rows]] = (await cli.multi().get(`${store.prefix}mbep:${key}`).xrange(`${store.prefix}mb:${key}`, '-', '+').exec()) as [
        [null, string | null],
        [null, [string, string[]][]],
      ];
      if (epoch === null) continue;
      for (const [id, fields] of rows) {
        const mid = fields[fields.indexOf('mid') + 1];
        out.set(mid, { mid, epoch, seq: Number(id.split('-')[0]), at: 0, sid: '(mailbox)', user: u } as Seen);
      }
    }
  } finally {
    cli.disconnect();
  }
  return out;
}

async function listClients(adminUrl: string): Promise<{ sid: string; node: string; userId: string }[]> {
  const out: { sid: string; node: string; userId: string }[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 20; page++) {
    const q = new URLSearchParams({ biz: BIZ, limit: '500', ...(cursor ? { cursor } : {}) });
    const r = await http(`${adminUrl}/api/clients?${q}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } }, 2000);
    if (r.status !== 200) throw new Error(`GET /api/clients answered ${r.status}: ${r.text.slice(0, 200)}`);
    out.push(...r.body.items);
    cursor = r.body.next;
    if (!cursor) break;
  }
  return out;
}

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms ${last}`);
    await sleep(200);
  }
}

function printCase(r: CaseResult) {
  console.log(
    `case ${r.id}: produced ${r.produced}, expected deliveries ${r.expected}, delivered ${r.delivered}, lost ${r.lost}, duplicates ${r.duplicates}, replays dropped by seq ${r.replaysDropped}, gaps ${r.gaps}, resyncs ${r.resyncs} (matching a mailbox loss ${r.resyncsJustified}), reconnects ${r.reconnects}, ready ${fmtMs(r.readyMs)}, directory exact ${fmtMs(r.directoryMs)}`,
  );
  for (const e of r.extra) console.log(`  ${e}`);
  for (const d of r.resyncDetail) console.log(`  resync: ${d}`);
  for (const x of r.fails) console.log(`  FAIL: ${x}`);
}

const fmtMs = (v: number | null) => (v === null ? 'never' : `${(v / 1000).toFixed(1)} s`);

function printTable(rs: CaseResult[]) {
  console.log(`\n| case | produced | delivered/expected | lost | dup | replays dropped | gaps | resyncs (justified) | ready | directory exact | verdict |`);
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of rs)
    console.log(
      `| ${r.id}. ${r.name} | ${r.produced} | ${r.delivered}/${r.expected} | ${r.lost} | ${r.duplicates} | ${r.replaysDropped} | ${r.gaps} | ${r.resyncs} (${r.resyncsJustified}) | ${fmtMs(r.readyMs)} | ${fmtMs(r.directoryMs)} | ${r.fails.length ? 'FAIL' : 'PASS'} |`,
    );
  console.log(
    `bounds: nodes ready <= ${READY_BOUND_MS / 1000} s after the fault's end; directory exact <= ${DIRECTORY_BOUND_MS / 1000} s after that (case 6: + ${DEAD_NODE_EXTRA_MS / 1000} s, the dead node's ${LEASE_TTL_SEC} s lease and two sweeps)`,
  );
}

// CI only (CHAOS_SHARED_SERVICES=1): the shared etcd/Kafka of scripts/deps.sh, stopped and started through it
function deps(...args: string[]) {
  execFileSync('bash', [path.join(ROOT, 'scripts/deps.sh'), ...args], { stdio: 'inherit' });
}
async function sharedEtcd(): Promise<Service> {
  return {
    url: 'http://127.0.0.1:2379',
    stop: async () => deps('stop', 'etcd'),
    start: async () => deps('start', 'etcd'),
    tail: () => '',
    remove: () => undefined,
  };
}
async function sharedKafka(): Promise<Service & { brokers: string[] }> {
  return {
    url: '127.0.0.1:9092',
    brokers: ['127.0.0.1:9092'],
    stop: async () => deps('stop', 'kafka'),
    start: async () => deps('start', 'kafka'),
    tail: () => '',
    remove: () => undefined,
  };
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`FAIL: chaos harness error: ${(err as Error).stack}`);
    process.exit(1);
  },
);
