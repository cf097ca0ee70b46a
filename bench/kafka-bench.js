"use strict";
/**
 * The Kafka scenarios of `make bench` (BENCH_ONLY values `kafka` and `fanout`), run by
 * bench/run.js (runKafka):
 *
 * kafka  - a kafkajs producer in its own process (bench/kafka-producer.js) publishes unicast
 *          envelopes {bizId, to: {users: [u]}, body: {t, p}} keyed by the user, to random
 *          connected users, at each BENCH_KAFKA_RATES rate for BENCH_KAFKA_PHASE_MS (one
 *          producer.send per 10 ms tick, acks=1, no compression); one gateway node in cluster
 *          mode consumes them with the default mailbox (every push stored, seq per user).
 *          Clients (the loadgen processes) measure latency from the producer's CLOCK_MONOTONIC
 *          timestamp to the parse of the frame; the group's lag (end offsets minus committed)
 *          is sampled every 500 ms. A rate is sustained when ≥ 95% of it is delivered per
 *          second and the lag at the end of sending is under half a second of records.
 * fanout - every link of the same gateway node joins room `r` (client `join` frames), then room
 *          pushes {bizId, to: {room: 'r'}, body} go through Kafka at each BENCH_FANOUT_RATES
 *          rate; clients count frames (parsing one in 16 for latency). The same on a raw `ws`
 *          server with as many links (POST /fanout of bench/raw-ws-server.js: framed once,
 *          written to every socket corked): its frames/s is the ceiling the gateway is
 *          compared with.
 * The gateway node has its own Redis prefix, etcd prefix, Kafka group and topics (recreated
 * at the start, deleted at the end, with what the node stored in Redis).
 */
const http = require("node:http");

const { CFG, GATEWAY_ENTRY, RAW_ENTRY, PRODUCER } = require("./lib/config");
const {
  forkWorker,
  waitReady,
  stopChild,
  ask,
  askAll,
} = require("./lib/procs");
const { httpJson } = require("./lib/http");
const { waitMetric } = require("./lib/metrics");
const { loopDelay } = require("./lib/probe");
const { cpuMeter, pidOfPort } = require("./lib/cpu");
const {
  int,
  list,
  nowUs,
  sleep,
  log,
  pct,
  mergeSorted,
  sum,
  union,
  pace,
  drain,
} = require("./lib/util");
const {
  startServer,
  gatewayEnv,
  checkNode,
  clusterDepsUp,
} = require("./lib/servers");
const {
  startLoadgens,
  closeLoadgens,
  openAll,
  dumpSamples,
} = require("./lib/loadgens");
const report = require("./lib/report");
const { ms, k, pctStr } = report;

const env = process.env;

const KCFG = {
  links: int(env.BENCH_KAFKA_LINKS, 10000),
  rates: list(env.BENCH_KAFKA_RATES, "5000,10000,20000,30000"),
  phaseMs: int(env.BENCH_KAFKA_PHASE_MS, 8000),
  partitions: int(env.BENCH_KAFKA_PARTITIONS, 12),
  fanoutRates: list(env.BENCH_FANOUT_RATES, "5,10,20,40"),
  fanoutPhaseMs: int(env.BENCH_FANOUT_PHASE_MS, 5000),
  /** clients parse one fan-out frame in this many (latency sample) */
  fanoutSample: 16,
  gwPort: int(env.BENCH_KAFKA_GW_PORT, 9222),
  govPort: int(env.BENCH_KAFKA_GOV_PORT, 9223),
  rawPort: int(env.BENCH_FANOUT_RAW_PORT, 9112),
  brokers: (env.BENCH_KAFKA_BROKERS || "127.0.0.1:9092").split(","),
  redisUrl: env.BENCH_REDIS_URL || "redis://127.0.0.1:6379",
  tickMs: 10,
  /** producer sends unanswered before ticks are skipped */
  maxInflight: 64,
  room: "r",
  addrBase: 15,
  rawAddrBase: 16,
};

const ISOLATION = {
  GATEWAY_REDIS_KEY_PREFIX: "gwbench-k:",
  GATEWAY_ETCD_PREFIX: "/gateway-bench-k/nodes/",
  GATEWAY_PUSH_TOPIC: "bench-k.gateway.push",
  GATEWAY_PUSH_DLQ_TOPIC: "bench-k.gateway.push.dlq",
  GATEWAY_PUSH_EVENTS_TOPIC: "bench-k.gateway.events",
  GATEWAY_PUSH_GROUP_ID: "ws-gateway-bench-k",
  GATEWAY_PUSH_PARTITIONS: String(KCFG.partitions),
};
const TOPICS = [
  ISOLATION.GATEWAY_PUSH_TOPIC,
  ISOLATION.GATEWAY_PUSH_DLQ_TOPIC,
  ISOLATION.GATEWAY_PUSH_EVENTS_TOPIC,
];
/** the topic and group every producer command is about */
const WHERE = {
  topic: ISOLATION.GATEWAY_PUSH_TOPIC,
  groupId: ISOLATION.GATEWAY_PUSH_GROUP_ID,
};

// ---------------------------------------------------------------- Redis

/** Deletes every key under `prefix` (SCAN + UNLINK), bounded in time. */
async function cleanRedis(prefix, timeoutMs = 30000) {
  const Redis = require("ioredis");
  const r = new Redis(KCFG.redisUrl, {
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    enableOfflineQueue: true,
    retryStrategy: () => null,
    lazyConnect: true,
  });
  r.on("error", () => undefined);
  const deadline = Date.now() + timeoutMs;
  let n = 0;
  try {
    await r.connect();
    let cursor = "0";
    do {
      const [c, keys] = await r.scan(
        cursor,
        "MATCH",
        `${prefix}*`,
        "COUNT",
        5000,
      );
      cursor = c;
      if (keys.length) {
        await r.unlink(...keys);
        n += keys.length;
      }
    } while (cursor !== "0" && Date.now() < deadline);
  } finally {
    r.disconnect();
  }
  return n;
}

// ---------------------------------------------------------------- the producer process

async function startProducer() {
  const child = forkWorker(PRODUCER, {
    ...process.env,
    KAFKAJS_NO_PARTITIONER_WARNING: "1",
  });
  await waitReady(child, "producer");
  return child;
}

/** Waits (bounded) until the consumer group has caught up with the topic. */
async function waitLag0(producer, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let lag = NaN;
  while (Date.now() < deadline) {
    lag = (
      await ask(producer, { cmd: "lag", ...WHERE }, "lag", 10000, "kafka lag")
    ).lag;
    if (lag === 0) return 0;
    await sleep(200);
  }
  return lag;
}

/** The producer publishes `rate`/s for `durationMs` (users or the room); its 'ran' report. */
function produce(producer, fields, rate, durationMs, what) {
  return ask(
    producer,
    {
      cmd: "run",
      ...fields,
      rate,
      durationMs,
      tickMs: KCFG.tickMs,
      maxInflight: KCFG.maxInflight,
      biz: CFG.biz,
      ...WHERE,
    },
    "ran",
    durationMs + 30000,
    what,
  );
}

// ---------------------------------------------------------------- unicast through Kafka

let phaseSeq = 1000;

/** The last lag sample taken while the producer was still sending. */
function lagAtEndOf(ran, durationMs) {
  const atEnd = ran.lag.filter(([t]) => t <= durationMs + 250);
  return atEnd.length ? atEnd[atEnd.length - 1][1] : NaN;
}

/** receipts before the producer stopped: the rate carried while it was sending */
function receivedBefore(rs, endUs) {
  let inWindow = 0;
  for (const r of rs)
    for (let i = 0; i < r.sent.length; i++)
      if (r.sent[i] + r.lat[i] * 1000 <= endUs) inWindow++;
  return inWindow;
}

function unicastResult(rate, durationMs, { ran, rs, usage, loop, lagBefore }) {
  const lat = mergeSorted(rs);
  const delivered = sum(rs, (r) => r.count);
  const lastUs = Math.max(0, ...rs.map((r) => r.lastUs));
  const sendSeconds = (ran.endUs - ran.firstUs) / 1e6;
  const p = {
    rate,
    offered: ran.offered,
    sent: ran.sent,
    skipped: ran.skipped,
    sendErrors: ran.errors,
    sendErrorSample: ran.errorSample,
    produceMs: ran.sendMs,
    delivered,
    dups: sum(rs, (r) => r.dups),
    deliveredPerSec:
      delivered /
      Math.max(sendSeconds, lastUs ? (lastUs - ran.firstUs) / 1e6 : 0),
    inWindowPerSec: receivedBefore(rs, ran.endUs) / sendSeconds,
    p50: pct(lat, 0.5),
    p99: pct(lat, 0.99),
    p999: pct(lat, 0.999),
    max: lat.length ? lat[lat.length - 1] : NaN,
    lagAtEnd: lagAtEndOf(ran, durationMs),
    lagMax: Math.max(0, ...ran.lag.map(([, l]) => l)),
    cpu: usage,
    loopP99: loop.p99,
    loopMax: loop.max,
    lost: sum(rs, (r) => r.lost),
    lostCodes: union(rs, "lostCodes"),
  };
  p.lagBefore = lagBefore;
  p.sustained =
    p.deliveredPerSec >= 0.95 * rate &&
    p.skipped === 0 &&
    p.sendErrors === 0 &&
    !(p.lagAtEnd > rate * 0.5);
  return p;
}

async function unicastPhase(k, rate, durationMs) {
  const lagBefore = await waitLag0(k.producer, 20000);
  const phase = ++phaseSeq;
  await loopDelay(k.server);
  const cpu = cpuMeter(k.server.pid, k.depPids);
  const ran = await produce(
    k.producer,
    { phase, kind: "users", users: k.users },
    rate,
    durationMs,
    `kafka ${rate}/s`,
  );
  const count = async () =>
    sum(
      await askAll(k.lgs, { cmd: "count", phase }, "count", 10000),
      (r) => r.count,
    );
  await drain(count, ran.sent, 3000, 20000);
  const usage = cpu();
  const loop = await loopDelay(k.server);
  const rs = await askAll(
    k.lgs,
    { cmd: "stats", phase, withSent: true },
    "stats",
    30000,
  );
  // [send µs, latency ms] of every sample, to see when slow pushes happen
  dumpSamples(rs, { phase, kind: "kafka", rate });
  return unicastResult(rate, durationMs, { ran, rs, usage, loop, lagBefore });
}

function logUnicastPhase(name, rate, p) {
  log(
    `${name}: kafka ${rate}/s -> produced ${p.sent}${p.skipped ? ` (skipped ${p.skipped})` : ""} delivered ${p.delivered} (${Math.round(p.deliveredPerSec)}/s, ${Math.round(p.inWindowPerSec)}/s while sending) p50 ${p.p50.toFixed(2)} p99 ${p.p99.toFixed(2)} max ${p.max.toFixed(1)} ms; lag at end ${p.lagAtEnd} max ${p.lagMax}; cpu gw ${pctStr(p.cpu.server)} redis ${pctStr(p.cpu.deps[0])} kafka ${pctStr(p.cpu.deps[1])} others ${pctStr(p.cpu.others)}; loop p99 ${p.loopP99.toFixed(1)} max ${p.loopMax.toFixed(1)} ms; produce rtt p50 ${p.produceMs[0].toFixed(1)} p99 ${p.produceMs[1].toFixed(1)} ms`,
  );
}

function noteUnicastPhase(r, rate, p) {
  report.noteChecks(r.notes, `kafka ${rate}/s: `, [
    [
      p.sendErrors,
      `${p.sendErrors} producer sends failed (${p.sendErrorSample})`,
    ],
    [
      p.skipped,
      `producer skipped ${p.skipped} envelopes (${KCFG.maxInflight} sends unanswered)`,
    ],
    [
      p.lagBefore,
      `started with ${p.lagBefore} records of the previous rate still unconsumed`,
    ],
    [p.dups, `${p.dups} duplicate push frames`],
    [
      p.lost,
      `${p.lost} links closed under load (codes ${p.lostCodes.join(",")})`,
    ],
    [
      p.delivered < p.sent,
      `${p.sent - p.delivered} produced pushes not received by the end of the drain`,
    ],
  ]);
}

/** The midpoint (to 500/s) between the last sustained rate below `rate` and it, if worth it. */
function bisectRate(r, rate) {
  const okRates = r.unicast.filter((x) => x.sustained).map((x) => x.rate);
  const below = okRates.filter((x) => x < rate);
  const lo = below.length ? Math.max(...below) : 0;
  const mid = Math.round((lo + rate) / 2 / 500) * 500;
  return lo > 0 && mid > lo && mid < rate && rate - lo > 1000 ? mid : 0;
}

/**
 * The listed rates until one is not sustained, then once the midpoint between that one and
 * the last sustained one (to 500/s), so the highest sustained rate is known to ±25%.
 */
async function unicastSeries(k, r, name) {
  // warm-up (JIT of the gateway and of the broker's JVM, producer and consumer connections,
  // Redis scripts) at the first rate; not reported. 2,000/s for 2 s left the broker still
  // compiling (half a core) through the first measured phase.
  await unicastPhase(k, KCFG.rates[0], 4000);
  const rates = [...KCFG.rates];
  let bisected = false;
  for (let i = 0; i < rates.length; i++) {
    const rate = rates[i];
    const p = await unicastPhase(k, rate, KCFG.phaseMs);
    r.unicast.push(p);
    logUnicastPhase(name, rate, p);
    noteUnicastPhase(r, rate, p);
    if (p.sustained) continue;
    const mid = bisected ? 0 : bisectRate(r, rate);
    if (mid) {
      bisected = true;
      rates.splice(i + 1, rates.length, mid);
      continue;
    }
    r.notes.push(`kafka: stopped after ${rate}/s (not sustained)`);
    break;
  }
  r.unicast.sort((a, b) => a.rate - b.rate);
  const ok = r.unicast.filter((p) => p.sustained);
  r.maxSustained = ok.length ? Math.max(...ok.map((p) => p.rate)) : 0;
  r.peakDelivered = Math.max(0, ...r.unicast.map((p) => p.deliveredPerSec));
  r.allSustained = ok.length === r.unicast.length;
}

// ---------------------------------------------------------------- fan-out

function fanoutResult(rate, members, { tr, rs, usage, loop }) {
  const expected = tr.sent * members;
  const lat = mergeSorted(rs);
  const frames = sum(rs, (r) => r.count);
  const lastUs = Math.max(0, ...rs.map((r) => r.lastUs));
  const sendSeconds = (tr.endUs - tr.firstUs) / 1e6;
  const seconds = Math.max(
    sendSeconds,
    lastUs ? (lastUs - tr.firstUs) / 1e6 : 0,
  );
  const p = {
    rate,
    sent: tr.sent,
    skipped: tr.skipped,
    errors: tr.errors,
    errorSample: tr.errorSample,
    expected,
    frames,
    offeredFps: rate * members,
    fps: frames / seconds,
    p50: pct(lat, 0.5),
    p99: pct(lat, 0.99),
    max: lat.length ? lat[lat.length - 1] : NaN,
    other: sum(rs, (r) => r.other),
    cpu: usage,
    loopP99: loop.p99,
    loopMax: loop.max,
    lost: sum(rs, (r) => r.lost),
    lostCodes: union(rs, "lostCodes"),
    rawSkipped: tr.rawSkipped || 0,
  };
  // server CPU per frame received: the server's own cost, whatever the clients could take
  p.serverUsPerFrame = frames
    ? (usage.server * usage.seconds * 1e6) / frames
    : NaN;
  p.sustained =
    p.fps >= 0.9 * p.offeredFps && p.frames >= 0.99 * expected && !p.skipped;
  return p;
}

/**
 * One fan-out phase: arms the clients' frame counters, lets `trigger` push `rate` pushes/s for
 * `durationMs`, waits (bounded) until `members` frames per push arrived or nothing more comes.
 */
async function fanoutPhase(t, lgs, members, rate, durationMs, trigger) {
  const phase = ++phaseSeq;
  await askAll(
    lgs,
    { cmd: "fanout", phase, sampleEvery: KCFG.fanoutSample },
    "fanout",
    10000,
  );
  await loopDelay(t.server);
  const cpu = cpuMeter(t.server.pid, t.depPids);
  const tr = await trigger(phase, rate, durationMs);
  const count = async () =>
    sum(
      await askAll(lgs, { cmd: "fanoutStats", phase }, "fanoutStats", 10000),
      (r) => r.count,
    );
  await drain(count, tr.sent * members, 2000, 30000);
  const usage = cpu();
  const loop = await loopDelay(t.server);
  const rs = await askAll(
    lgs,
    { cmd: "fanoutStats", phase, stop: true, withLat: true },
    "fanoutStats",
    30000,
  );
  return fanoutResult(rate, members, { tr, rs, usage, loop });
}

function logFanoutPhase(t, rate, members, p) {
  log(
    `${t.name}: fan-out ${rate}/s x ${members} -> ${p.frames}/${p.expected} frames, ${Math.round(p.fps)} frames/s (offered ${p.offeredFps}); latency p50 ${p.p50.toFixed(1)} p99 ${p.p99.toFixed(1)} ms; cpu server ${pctStr(p.cpu.server)} clients ${pctStr(p.cpu.clients)} redis ${pctStr(p.cpu.deps[0])} kafka ${pctStr(p.cpu.deps[1])} others ${pctStr(p.cpu.others)}${p.skipped ? `; skipped ${p.skipped}` : ""}${p.rawSkipped ? `; sockets skipped (backlog) ${p.rawSkipped}` : ""}${p.lost ? `; links lost ${p.lost} (${p.lostCodes})` : ""}`,
  );
}

function noteFanoutPhase(r, rate, p) {
  report.noteChecks(r.notes, `fan-out ${rate}/s: `, [
    [p.errors, `${p.errors} trigger errors (${p.errorSample})`],
    [p.lost, `${p.lost} links closed (codes ${p.lostCodes.join(",")})`],
    [
      p.frames < p.expected,
      `${p.expected - p.frames} of ${p.expected} frames not received`,
    ],
  ]);
}

async function fanoutSeries(t, lgs, members, trigger, r) {
  r.fanout = [];
  for (const rate of KCFG.fanoutRates) {
    const p = await fanoutPhase(
      t,
      lgs,
      members,
      rate,
      KCFG.fanoutPhaseMs,
      trigger,
    );
    r.fanout.push(p);
    logFanoutPhase(t, rate, members, p);
    noteFanoutPhase(r, rate, p);
    if (!p.sustained) {
      r.notes.push(
        `fan-out stopped after ${rate}/s (not sustained: the ceiling is reached)`,
      );
      break;
    }
  }
  r.fanoutCeiling = Math.max(0, ...r.fanout.map((p) => p.fps));
  r.fanoutSaturated = r.fanout.some((p) => !p.sustained);
}

// ---------------------------------------------------------------- the gateway node (cluster)

/** Fresh topics (and group) for the run, and no Redis keys of a previous one. */
async function prepareKafka(producer, name) {
  await ask(
    producer,
    {
      cmd: "setup",
      brokers: KCFG.brokers,
      topics: TOPICS,
      partitions: KCFG.partitions,
      groupId: ISOLATION.GATEWAY_PUSH_GROUP_ID,
    },
    "setup",
    60000,
    "kafka topic setup",
  );
  const stale = await cleanRedis(ISOLATION.GATEWAY_REDIS_KEY_PREFIX);
  if (stale) log(`${name}: removed ${stale} Redis keys a previous run left`);
}

/** The cluster-mode node, once its consumer holds every partition. */
async function startKafkaNode(t, r, name) {
  const nodeId = `bench-kafka-${process.pid}`;
  const childEnv = gatewayEnv(
    "cluster",
    KCFG.gwPort,
    KCFG.govPort,
    nodeId,
    ISOLATION,
  );
  t.server = await startServer(
    "gateway-kafka",
    GATEWAY_ENTRY,
    childEnv,
    [KCFG.gwPort, KCFG.govPort],
    `http://127.0.0.1:${KCFG.govPort}/health/live`,
    checkNode(nodeId, KCFG.govPort),
  );
  // /health/live answers before the consumer has joined its group: wait for the partitions
  r.assigned = await waitMetric(
    KCFG.govPort,
    "websocket_gateway_kafka_assigned_partitions",
    KCFG.partitions,
    45000,
  );
  if (r.assigned !== KCFG.partitions)
    throw new Error(
      `${name}: consumes ${r.assigned} of ${KCFG.partitions} partitions after 45 s (another member in group ${ISOLATION.GATEWAY_PUSH_GROUP_ID}?)`,
    );
}

/** Every link joins the room (client join frames); r.join. */
async function joinRoom(lgs, r, name) {
  const joins = await askAll(
    lgs,
    { cmd: "join", room: KCFG.room, concurrency: 100, timeoutMs: 15000 },
    "joined",
    60000,
  );
  r.join = {
    ok: sum(joins, (j) => j.ok),
    failed: sum(joins, (j) => j.failed),
    ms: Math.max(...joins.map((j) => j.ms)),
    codes: joins.map((j) => j.codes),
  };
  log(
    `${name}: ${r.join.ok} links joined room ${KCFG.room} in ${r.join.ms} ms`,
  );
  if (r.join.failed)
    r.notes.push(
      `${r.join.failed} room joins failed (${JSON.stringify(r.join.codes)})`,
    );
}

/** Room pushes through Kafka: the gateway's fan-out trigger. */
const roomTrigger = (producer) => async (phase, rate, durationMs) => {
  await waitLag0(producer, 20000);
  const ran = await produce(
    producer,
    { phase, kind: "room", room: KCFG.room },
    rate,
    durationMs,
    `fan-out ${rate}/s`,
  );
  return { ...ran, errors: ran.errors, errorSample: ran.errorSample };
};

/** Stops the node and the producer; deletes the topics, the group and the node's Redis keys. */
async function teardownKafka(t, r, name, producer, lgs) {
  await closeLoadgens(lgs);
  if (t.server) {
    await stopChild(t.server, "SIGTERM", 15000);
    if (t.server.exitCode)
      r.notes.push(
        `server exited with ${t.server.exitCode} on SIGTERM (see bench/results/gateway-kafka.log)`,
      );
  }
  await ask(
    producer,
    {
      cmd: "teardown",
      topics: TOPICS,
      groupId: ISOLATION.GATEWAY_PUSH_GROUP_ID,
    },
    "teardown",
    30000,
    "kafka teardown",
  ).catch((err) => log(`kafka teardown: ${err.message}`));
  await stopChild(producer, "SIGTERM", 3000);
  const n = await cleanRedis(ISOLATION.GATEWAY_REDIS_KEY_PREFIX).catch(() => 0);
  log(`${name}: removed ${n} Redis keys of the run`);
}

/**
 * BENCH_ONLY kafka and/or fanout: one cluster-mode gateway node, its links, the unicast
 * phases through Kafka, then the room fan-out through Kafka.
 */
async function runKafkaGateway({ unicast, fanout }) {
  const name = "gateway (cluster, Kafka)";
  const r = { name, notes: [], unicast: [], fanout: [] };
  const t = {
    name,
    kind: "gateway",
    govPort: KCFG.govPort,
    depPids: [pidOfPort(6379), pidOfPort(9092)],
  };
  log(
    `${name}: preparing topics and Redis (prefix ${ISOLATION.GATEWAY_REDIS_KEY_PREFIX})`,
  );
  const producer = await startProducer();
  let lgs = [];
  try {
    await prepareKafka(producer, name);
    await startKafkaNode(t, r, name);
    lgs = await startLoadgens(CFG.loadgens);
    const url = `ws://127.0.0.1:${KCFG.gwPort}/ws`;
    const o = await openAll(
      r,
      name,
      lgs,
      "gateway",
      url,
      KCFG.addrBase,
      KCFG.links,
    );
    log(
      `${name}: ${o.ok} links in ${o.seconds.toFixed(1)} s, ${r.assigned} partitions`,
    );
    const k = {
      server: t.server,
      producer,
      depPids: t.depPids,
      lgs,
      users: o.okUsers,
    };
    if (unicast) await unicastSeries(k, r, name);
    if (fanout) {
      await joinRoom(lgs, r, name);
      // the consumer follows the room on every member link before the first room push
      await sleep(500);
      await fanoutSeries(t, lgs, r.join.ok, roomTrigger(producer), r);
    }
  } finally {
    await teardownKafka(t, r, name, producer, lgs);
  }
  return r;
}

// ---------------------------------------------------------------- raw ws fan-out

/** One POST /fanout of `due` pushes, counted in `st`. */
function rawFanoutPost(agent, st, due, phase) {
  return httpJson("POST", `http://127.0.0.1:${KCFG.rawPort}/fanout`, {
    body: { n: due, body: { t: nowUs(), p: phase } },
    agent,
    timeoutMs: 30000,
  })
    .then((res) => {
      if (res.status !== 202) throw new Error(`HTTP ${res.status}`);
      st.sent += due;
      st.rawSkipped += res.json.skipped;
    })
    .catch((err) => {
      st.errors++;
      st.errorSample ??= err.message;
    });
}

/** The same pacing as the producer: what is due every 10 ms tick, in one POST. */
const rawFanoutTrigger = (agent) => async (phase, rate, durationMs) => {
  const st = {
    sent: 0,
    skipped: 0,
    errors: 0,
    errorSample: undefined,
    rawSkipped: 0,
  };
  const posts = [];
  let inflight = 0;
  const firstUs = nowUs();
  await pace(rate, durationMs, KCFG.tickMs, (due) => {
    if (inflight >= KCFG.maxInflight) st.skipped += due;
    else {
      inflight++;
      posts.push(
        rawFanoutPost(agent, st, due, phase).finally(() => inflight--),
      );
    }
  });
  const endUs = nowUs();
  await Promise.all(posts);
  return { ...st, firstUs, endUs };
};

/** The raw ws server with as many links, POST /fanout: the fan-out ceiling of this machine. */
async function runRawFanout(links) {
  const name = "raw ws (fan-out)";
  const r = { name, notes: [], fanout: [] };
  const t = { name, kind: "raw", depPids: [pidOfPort(6379), pidOfPort(9092)] };
  t.server = await startServer(
    "raw-ws-fanout",
    RAW_ENTRY,
    { ...process.env, RAW_PORT: String(KCFG.rawPort) },
    [KCFG.rawPort],
    `http://127.0.0.1:${KCFG.rawPort}/health`,
  );
  let lgs = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    lgs = await startLoadgens(CFG.loadgens);
    const url = `ws://127.0.0.1:${KCFG.rawPort}/ws`;
    const o = await openAll(r, name, lgs, "raw", url, KCFG.rawAddrBase, links);
    log(`${name}: ${o.ok} links in ${o.seconds.toFixed(1)} s`);
    await fanoutSeries(t, lgs, o.ok, rawFanoutTrigger(agent), r);
  } finally {
    agent.destroy();
    await closeLoadgens(lgs);
    await stopChild(t.server, "SIGTERM", 10000);
  }
  return r;
}

// ---------------------------------------------------------------- report

function unicastRows(row, gw, isGw) {
  row("gateway.push partitions consumed", (c) =>
    isGw(c) ? String(c.assigned) : "",
  );
  for (const p of gw.unicast) {
    const cell = (f) => (c) => (isGw(c) ? f(p) : "");
    const r5 = p.rate === 5000;
    const at = `kafka ${p.rate}/s:`;
    row(
      `${at} produced (acked) / offered`,
      cell((x) => `${x.sent} / ${x.offered}`),
    );
    row(
      `${at} delivered/s (while sending)`,
      cell((x) => `${k(x.deliveredPerSec)} (${k(x.inWindowPerSec)})`),
    );
    row(
      `${at} latency p50 / p99 (ms)`,
      cell((x) => `${ms(x.p50)} / ${r5 ? `**${ms(x.p99)}**` : ms(x.p99)}`),
      r5 ? "p99 < 25 ms" : "",
    );
    row(
      `${at} latency p99.9 / max (ms)`,
      cell((x) => `${ms(x.p999)} / ${ms(x.max)}`),
    );
    row(
      `${at} consumer lag at end of sending / max (records)`,
      cell((x) => `${x.lagAtEnd} / ${x.lagMax}`),
    );
    row(
      `${at} sustained`,
      cell((x) => (x.sustained ? "yes" : "**no**")),
    );
    row(
      `${at} CPU gateway / Redis / Kafka broker / clients+producer`,
      cell(
        (x) =>
          `${pctStr(x.cpu.server)} / ${pctStr(x.cpu.deps[0])} / ${pctStr(x.cpu.deps[1])} / ${pctStr(x.cpu.clients)}`,
      ),
    );
    row(
      `${at} CPU used outside the bench (noise)`,
      cell((x) => pctStr(x.cpu.others)),
    );
    row(
      `${at} gateway event-loop delay p99 / max (ms)`,
      cell((x) => `${ms(x.loopP99)} / ${ms(x.loopMax)}`),
    );
  }
  row(
    "**max sustained unicast rate through Kafka (pushes/s)**",
    (c) =>
      isGw(c)
        ? `**${k(c.maxSustained)}**${c.allSustained ? " (every rate tried)" : ""}; peak delivered ${k(c.peakDelivered)}/s`
        : "",
    "≥ 20,000",
  );
}

function fanoutRateRows(row, rate) {
  const cell = (f) => (c) => {
    const p = c.fanout.find((x) => x.rate === rate);
    return p ? f(p) : "not run";
  };
  const at = `fan-out ${rate} pushes/s:`;
  row(
    `${at} frames/s received (offered)`,
    cell((p) => `${k(p.fps)} (${k(p.offeredFps)})`),
  );
  row(
    `${at} latency p50 / p99 (ms)`,
    cell((p) => `${ms(p.p50)} / ${ms(p.p99)}`),
  );
  row(
    `${at} CPU server / clients / noise`,
    cell(
      (p) =>
        `${pctStr(p.cpu.server)} / ${pctStr(p.cpu.clients)} / ${pctStr(p.cpu.others)}`,
    ),
  );
  row(
    `${at} server CPU per frame (µs)`,
    cell((p) => p.serverUsPerFrame.toFixed(1)),
  );
}

/** gateway ÷ raw ceiling, and what one frame costs each server at the highest common rate */
function fanoutRatioRows(row, gw, raw, isGw) {
  row(
    "**gateway fan-out ÷ raw ws ceiling**",
    (c) =>
      isGw(c)
        ? `**${(gw.fanoutCeiling / raw.fanoutCeiling).toFixed(2)}×**`
        : "1.00×",
    "≥ 0.5×",
  );
  const common = gw.fanout.filter((p) =>
    raw.fanout.some((q) => q.rate === p.rate),
  );
  const last = common[common.length - 1];
  if (!last) return;
  const q = raw.fanout.find((x) => x.rate === last.rate);
  row(
    `server CPU per frame at ${last.rate} pushes/s, raw ws ÷ gateway (1 = as cheap as raw)`,
    (c) =>
      isGw(c)
        ? `${(q.serverUsPerFrame / last.serverUsPerFrame).toFixed(2)}×`
        : "1.00×",
  );
}

function fanoutRows(row, cols, gw, raw, isGw) {
  if (gw && gw.join)
    row("room members (client join frames) / join time", (c) =>
      isGw(c)
        ? `${c.join.ok} / ${(c.join.ms / 1000).toFixed(1)} s`
        : "all links",
    );
  const rates = [
    ...new Set(cols.flatMap((c) => c.fanout.map((p) => p.rate))),
  ].sort((a, b) => a - b);
  for (const rate of rates) fanoutRateRows(row, rate);
  row(
    "**fan-out frames/s (max over the rates)**",
    (c) =>
      `**${k(c.fanoutCeiling)}**${c.fanoutSaturated ? "" : " (not saturated: a floor)"}`,
  );
  if (gw && raw && gw.fanout.length && raw.fanout.length)
    fanoutRatioRows(row, gw, raw, isGw);
}

/** What was measured how, above the Kafka table. */
function kafkaContext() {
  return [
    `Unicast: a kafkajs producer process publishes {bizId, to: {users: [u]}, body: {t, p}} keyed by the user to ${KCFG.partitions} partitions, random connected users, ${KCFG.phaseMs / 1000} s per rate, one send per ${KCFG.tickMs} ms (acks=1, no compression); one gateway node in cluster mode consumes them with the default mailbox (every push stored with a seq). Latency from the producer's CLOCK_MONOTONIC timestamp to the client's parse. "While sending": pushes received before the producer stopped, per second of sending. Lag: end offsets minus the group's committed offsets, sampled every 500 ms. Sustained: ≥ 95% delivered per second and a lag under half a second of records at the end of sending. CPU of Redis and the Kafka broker is theirs (they serve only this bench meanwhile, unless tests run); "noise" is everything else outside the bench.`,
    `Fan-out: every link joined room "${KCFG.room}" (one user per link), room pushes through Kafka (keyed by the room) at each rate for ${KCFG.fanoutPhaseMs / 1000} s; clients count frames and parse one in ${KCFG.fanoutSample} for latency. Raw ws: the same links on bench/raw-ws-server.js, POST /fanout each 10 ms tick (each frame encoded and framed once, written to every socket in one corked batch). frames/s = frames received by all clients / (first push to last frame). Rates stop once one is not carried (< 90%): the last one measures the ceiling. The load generators share the CPUs with the server (one socket read per frame for them, one socket write per frame and link for the server), so a ceiling is the machine's, clients included; "server CPU per frame" is the server's own cost.`,
  ];
}

function kafkaTable(gw, raw) {
  const cols = [gw, raw].filter(Boolean);
  const rows = [];
  const row = (metric, f, goal = "") =>
    rows.push([
      metric,
      ...cols.map((c) => {
        try {
          const v = f(c);
          return v === undefined ? "" : v;
        } catch {
          return "n/a";
        }
      }),
      goal,
    ]);
  const isGw = (c) => c === gw;
  row("links connected", (c) => `${c.open.ok} / ${c.open.ok + c.open.failed}`);
  if (gw && gw.unicast.length) unicastRows(row, gw, isGw);
  if (cols.some((c) => c.fanout.length)) fanoutRows(row, cols, gw, raw, isGw);
  const head = ["metric", ...cols.map((c) => c.name), "goal"];
  const out = [
    "### Kafka push and room fan-out",
    "",
    ...kafkaContext(),
    "",
    ...report.mdTable(head, rows),
    "",
    ...report.notesBlock(cols),
  ];
  return out.join("\n");
}

// ---------------------------------------------------------------- entry point

const SECTION = "### Kafka push and room fan-out";

/** BENCH_ONLY kafka and/or fanout: the scenarios, then their markdown section. */
async function runKafka(wantKafka, wantFanout) {
  const down = await clusterDepsUp();
  if (down.length)
    return `${SECTION}\n\nnot run: ${down.join(", ")} not answering (start them with \`bash scripts/deps.sh start\`)\n`;
  let gw;
  let raw;
  try {
    gw = await runKafkaGateway({ unicast: wantKafka, fanout: wantFanout });
  } catch (err) {
    log(`kafka scenarios failed: ${err.stack || err.message}`);
    return `${SECTION}\n\nfailed: ${err.message.split("\n").slice(0, 6).join(" / ")}\n`;
  }
  if (wantFanout) {
    try {
      raw = await runRawFanout(gw.join ? gw.join.ok : KCFG.links);
    } catch (err) {
      log(`raw fan-out failed: ${err.stack || err.message}`);
      gw.notes.push(`raw ws fan-out failed: ${err.message.split("\n")[0]}`);
    }
  }
  return kafkaTable(gw, raw);
}

module.exports = {
  KCFG,
  ISOLATION,
  runKafka,
  runKafkaGateway,
  runRawFanout,
  kafkaTable,
  cleanRedis,
};
