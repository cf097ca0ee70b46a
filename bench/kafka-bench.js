"use strict";
/**
 * The Kafka scenarios of `make bench` (BENCH_ONLY values `kafka` and `fanout`), run by
 * bench/run.js with its helpers (`h`):
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
const { fork, execFileSync } = require("node:child_process");
const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");

const env = process.env;
const int = (v, d) =>
  v !== undefined && v !== "" && Number.isFinite(Number(v))
    ? Math.floor(Number(v))
    : d;
const list = (v, d) =>
  (v || d)
    .split(",")
    .map((r) => int(r.trim(), 0))
    .filter((r) => r > 0);

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

// ---------------------------------------------------------------- small helpers

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/** pid of the process listening on a local TCP port (Redis, the Kafka broker), for its CPU */
function pidOfPort(port) {
  try {
    const out = execFileSync("ss", ["-ltnpH", `sport = :${port}`], {
      stdio: ["ignore", "pipe", "ignore"],
    }).toString();
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

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

function hist(rs) {
  const lat = new Float64Array(rs.reduce((a, r) => a + r.lat.length, 0));
  let o = 0;
  for (const r of rs) {
    lat.set(r.lat, o);
    o += r.lat.length;
  }
  return lat.sort();
}

// ---------------------------------------------------------------- the producer process

async function startProducer(h) {
  const child = h.track(
    fork(path.join(__dirname, "kafka-producer.js"), [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: [...process.execArgv, "--max-semi-space-size=64"],
      env: { ...process.env, KAFKAJS_NO_PARTITIONER_WARNING: "1" },
    }),
  );
  await h.waitMessage(
    child,
    (m) => m && m.ev === "ready",
    15000,
    "producer start",
  );
  return child;
}

async function ask(h, child, msg, ev, timeoutMs, what) {
  const reply = h.waitMessage(
    child,
    (m) => m && (m.ev === ev || (m.ev === "error" && m.cmd === msg.cmd)),
    timeoutMs,
    what,
  );
  child.send(msg);
  const r = await reply;
  if (r.ev === "error") throw new Error(`${what}: ${r.message}`);
  return r;
}

// ---------------------------------------------------------------- CPU accounting

/** CPU of the server, Redis and the Kafka broker, and of everything else outside the bench */
function cpuMeter(h, serverPid, depPids) {
  const read = () => ({
    at: performance.now(),
    server: h.cpuTicks(serverPid),
    deps: depPids.map((p) => (p ? h.cpuTicks(p) : NaN)),
    machine: h.machineTicks(),
    bench: h.benchTicks(),
  });
  const a = read();
  return () => {
    const b = read();
    const secs = (b.at - a.at) / 1000;
    const per = (x) => x / h.CLK_TCK / secs;
    const deps = b.deps.map((x, i) => per(x - a.deps[i]));
    const depSum = deps.reduce((s, x) => s + (Number.isFinite(x) ? x : 0), 0);
    return {
      server: per(b.server - a.server),
      deps,
      // the load generators, the producer and the runner
      clients: per(b.bench - a.bench - (b.server - a.server)),
      others: Math.max(
        0,
        per(b.machine - a.machine - (b.bench - a.bench)) - depSum,
      ),
      seconds: secs,
    };
  };
}

// ---------------------------------------------------------------- loadgen queries

async function lgAll(h, lgs, msg, ev, timeoutMs) {
  return Promise.all(
    lgs.map((c) => {
      const r = h.waitMessage(
        c,
        (m) =>
          m &&
          m.ev === ev &&
          (msg.phase === undefined || m.phase === msg.phase),
        timeoutMs,
        `loadgen ${msg.cmd}`,
      );
      c.send(msg);
      return r;
    }),
  );
}

/** Waits (bounded) until `count()` reaches `expected` or stops growing for `quietMs`. */
async function drain(count, expected, quietMs, maxMs) {
  const deadline = Date.now() + maxMs;
  let got = await count();
  let last = got;
  let lastChange = Date.now();
  while (got < expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    got = await count();
    if (got !== last) {
      last = got;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > quietMs) break;
  }
  return got;
}

// ---------------------------------------------------------------- unicast through Kafka

let phaseSeq = 1000;

/** Waits (bounded) until the consumer group has caught up with the topic. */
async function waitLag0(h, producer, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let lag = NaN;
  while (Date.now() < deadline) {
    lag = (
      await ask(
        h,
        producer,
        {
          cmd: "lag",
          topic: ISOLATION.GATEWAY_PUSH_TOPIC,
          groupId: ISOLATION.GATEWAY_PUSH_GROUP_ID,
        },
        "lag",
        10000,
        "kafka lag",
      )
    ).lag;
    if (lag === 0) return 0;
    await h.sleep(200);
  }
  return lag;
}

async function unicastPhase(h, k, rate, durationMs) {
  const lagBefore = await waitLag0(h, k.producer, 20000);
  const phase = ++phaseSeq;
  await h.loopDelay(k.server);
  const cpu = cpuMeter(h, k.server.pid, k.depPids);
  const ran = await ask(
    h,
    k.producer,
    {
      cmd: "run",
      phase,
      kind: "users",
      rate,
      durationMs,
      tickMs: KCFG.tickMs,
      maxInflight: KCFG.maxInflight,
      users: k.users,
      biz: h.CFG.biz,
      topic: ISOLATION.GATEWAY_PUSH_TOPIC,
      groupId: ISOLATION.GATEWAY_PUSH_GROUP_ID,
    },
    "ran",
    durationMs + 30000,
    `kafka ${rate}/s`,
  );
  const count = async () =>
    (await lgAll(h, k.lgs, { cmd: "count", phase }, "count", 10000)).reduce(
      (a, r) => a + r.count,
      0,
    );
  await drain(count, ran.sent, 3000, 20000);
  const usage = cpu();
  const loop = await h.loopDelay(k.server);
  const rs = await lgAll(
    h,
    k.lgs,
    { cmd: "stats", phase, withSent: true },
    "stats",
    30000,
  );
  if (env.BENCH_DUMP) {
    // [send µs, latency ms] of every sample, to see when slow pushes happen
    const pairs = rs.flatMap((r) => r.lat.map((l, i) => [r.sent[i], l]));
    pairs.sort((a, b) => a[0] - b[0]);
    fs.appendFileSync(
      env.BENCH_DUMP,
      JSON.stringify({ phase, kind: "kafka", rate, pairs }) + "\n",
    );
  }
  const lat = hist(rs);
  const delivered = rs.reduce((a, r) => a + r.count, 0);
  const lastUs = Math.max(0, ...rs.map((r) => r.lastUs));
  const sendSeconds = (ran.endUs - ran.firstUs) / 1e6;
  // receipts before the producer stopped: the rate carried while it was sending
  let inWindow = 0;
  for (const r of rs)
    for (let i = 0; i < r.sent.length; i++)
      if (r.sent[i] + r.lat[i] * 1000 <= ran.endUs) inWindow++;
  const lagAtEnd = (() => {
    const atEnd = ran.lag.filter(([t]) => t <= durationMs + 250);
    return atEnd.length ? atEnd[atEnd.length - 1][1] : NaN;
  })();
  const p = {
    rate,
    offered: ran.offered,
    sent: ran.sent,
    skipped: ran.skipped,
    sendErrors: ran.errors,
    sendErrorSample: ran.errorSample,
    produceMs: ran.sendMs,
    delivered,
    dups: rs.reduce((a, r) => a + r.dups, 0),
    deliveredPerSec:
      delivered /
      Math.max(sendSeconds, lastUs ? (lastUs - ran.firstUs) / 1e6 : 0),
    inWindowPerSec: inWindow / sendSeconds,
    p50: h.pct(lat, 0.5),
    p99: h.pct(lat, 0.99),
    p999: h.pct(lat, 0.999),
    max: lat.length ? lat[lat.length - 1] : NaN,
    lagAtEnd,
    lagMax: Math.max(0, ...ran.lag.map(([, l]) => l)),
    cpu: usage,
    loopP99: loop.p99,
    loopMax: loop.max,
    lost: rs.reduce((a, r) => a + r.lost, 0),
    lostCodes: [...new Set(rs.flatMap((r) => r.lostCodes))],
  };
  p.lagBefore = lagBefore;
  p.sustained =
    p.deliveredPerSec >= 0.95 * rate &&
    p.skipped === 0 &&
    p.sendErrors === 0 &&
    !(p.lagAtEnd > rate * 0.5);
  return p;
}

// ---------------------------------------------------------------- fan-out

/**
 * One fan-out phase: arms the clients' frame counters, lets `trigger` push `rate` pushes/s for
 * `durationMs`, waits (bounded) until `members` frames per push arrived or nothing more comes.
 */
async function fanoutPhase(h, t, lgs, members, rate, durationMs, trigger) {
  const phase = ++phaseSeq;
  await lgAll(
    h,
    lgs,
    { cmd: "fanout", phase, sampleEvery: KCFG.fanoutSample },
    "fanout",
    10000,
  );
  await h.loopDelay(t.server);
  const cpu = cpuMeter(h, t.server.pid, t.depPids);
  const tr = await trigger(phase, rate, durationMs);
  const expected = tr.sent * members;
  const count = async () =>
    (
      await lgAll(h, lgs, { cmd: "fanoutStats", phase }, "fanoutStats", 10000)
    ).reduce((a, r) => a + r.count, 0);
  await drain(count, expected, 2000, 30000);
  const usage = cpu();
  const loop = await h.loopDelay(t.server);
  const rs = await lgAll(
    h,
    lgs,
    { cmd: "fanoutStats", phase, stop: true, withLat: true },
    "fanoutStats",
    30000,
  );
  const lat = hist(rs);
  const frames = rs.reduce((a, r) => a + r.count, 0);
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
    p50: h.pct(lat, 0.5),
    p99: h.pct(lat, 0.99),
    max: lat.length ? lat[lat.length - 1] : NaN,
    other: rs.reduce((a, r) => a + r.other, 0),
    cpu: usage,
    loopP99: loop.p99,
    loopMax: loop.max,
    lost: rs.reduce((a, r) => a + r.lost, 0),
    lostCodes: [...new Set(rs.flatMap((r) => r.lostCodes))],
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

async function fanoutSeries(h, t, lgs, members, trigger, r) {
  r.fanout = [];
  for (const rate of KCFG.fanoutRates) {
    const p = await fanoutPhase(
      h,
      t,
      lgs,
      members,
      rate,
      KCFG.fanoutPhaseMs,
      trigger,
    );
    r.fanout.push(p);
    h.log(
      `${t.name}: fan-out ${rate}/s x ${members} -> ${p.frames}/${p.expected} frames, ${Math.round(p.fps)} frames/s (offered ${p.offeredFps}); latency p50 ${p.p50.toFixed(1)} p99 ${p.p99.toFixed(1)} ms; cpu server ${pctStr(p.cpu.server)} clients ${pctStr(p.cpu.clients)} redis ${pctStr(p.cpu.deps[0])} kafka ${pctStr(p.cpu.deps[1])} others ${pctStr(p.cpu.others)}${p.skipped ? `; skipped ${p.skipped}` : ""}${p.rawSkipped ? `; sockets skipped (backlog) ${p.rawSkipped}` : ""}${p.lost ? `; links lost ${p.lost} (${p.lostCodes})` : ""}`,
    );
    if (p.errors)
      r.notes.push(
        `fan-out ${rate}/s: ${p.errors} trigger errors (${p.errorSample})`,
      );
    if (p.lost)
      r.notes.push(
        `fan-out ${rate}/s: ${p.lost} links closed (codes ${p.lostCodes.join(",")})`,
      );
    if (p.frames < p.expected)
      r.notes.push(
        `fan-out ${rate}/s: ${p.expected - p.frames} of ${p.expected} frames not received`,
      );
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

const pctStr = (x) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : "n/a");

// ---------------------------------------------------------------- the gateway node (cluster)

/**
 * Opens `count` links on `url` from the load generators; records the result in `r.open`, notes
 * failures, and throws when none connected.
 */
async function openAll(h, r, name, lgs, target, url, addrBase, count) {
  const o = await h.openLinks(lgs, target, url, addrBase, count, 0, 0);
  r.open = o;
  if (o.failed)
    r.notes.push(
      `${o.failed} links failed to connect (e.g. ${o.errors.join("; ")})`,
    );
  if (!o.ok)
    throw new Error(`${name}: no link connected: ${o.errors.join("; ")}`);
  return o;
}

async function waitAssigned(h, govPort, want, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let n = NaN;
  while (Date.now() < deadline) {
    try {
      const r = await h.httpJson("GET", `http://127.0.0.1:${govPort}/metrics`, {
        timeoutMs: 2000,
      });
      const m = /^websocket_gateway_kafka_assigned_partitions (\S+)$/m.exec(
        r.text,
      );
      n = m ? Number(m[1]) : NaN;
      if (n === want) return n;
    } catch {
      /* not yet */
    }
    await h.sleep(200);
  }
  return n;
}

/**
 * BENCH_ONLY kafka and/or fanout: one cluster-mode gateway node, its links, the unicast
 * phases through Kafka, then the room fan-out through Kafka.
 */
async function runKafkaGateway(h, { unicast, fanout }) {
  const name = "gateway (cluster, Kafka)";
  const r = { name, notes: [], unicast: [], fanout: [] };
  const t = {
    name,
    kind: "gateway",
    govPort: KCFG.govPort,
    depPids: [pidOfPort(6379), pidOfPort(9092)],
  };
  h.log(
    `${name}: preparing topics and Redis (prefix ${ISOLATION.GATEWAY_REDIS_KEY_PREFIX})`,
  );
  const producer = await startProducer(h);
  let lgs = [];
  try {
    await ask(
      h,
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
    if (stale)
      h.log(`${name}: removed ${stale} Redis keys a previous run left`);

    const nodeId = `bench-kafka-${process.pid}`;
    const childEnv = h.gatewayEnv(
      "cluster",
      KCFG.gwPort,
      KCFG.govPort,
      nodeId,
      ISOLATION,
    );
    t.server = await h.startServer(
      "gateway-kafka",
      h.GATEWAY_ENTRY,
      childEnv,
      [KCFG.gwPort, KCFG.govPort],
      `http://127.0.0.1:${KCFG.govPort}/health/live`,
      (res) => {
        if (res.json?.node !== nodeId)
          throw new Error(
            `port ${KCFG.govPort} is answered by node ${res.json?.node}`,
          );
      },
    );
    // /health/live answers before the consumer has joined its group: wait for the partitions
    r.assigned = await waitAssigned(h, KCFG.govPort, KCFG.partitions, 45000);
    if (r.assigned !== KCFG.partitions)
      throw new Error(
        `${name}: consumes ${r.assigned} of ${KCFG.partitions} partitions after 45 s (another member in group ${ISOLATION.GATEWAY_PUSH_GROUP_ID}?)`,
      );
    const k = {
      server: t.server,
      producer,
      depPids: t.depPids,
      lgs: [],
      users: [],
    };

    lgs = await h.startLoadgens(h.CFG.loadgens);
    k.lgs = lgs;
    const o = await openAll(
      h,
      r,
      name,
      lgs,
      "gateway",
      `ws://127.0.0.1:${KCFG.gwPort}/ws`,
      KCFG.addrBase,
      KCFG.links,
    );
    k.users = o.okUsers;
    h.log(
      `${name}: ${o.ok} links in ${o.seconds.toFixed(1)} s, ${r.assigned} partitions`,
    );

    if (unicast) {
      // warm-up (JIT of the gateway and of the broker's JVM, producer and consumer connections,
      // Redis scripts) at the first rate; not reported. 2,000/s for 2 s left the broker still
      // compiling (half a core) through the first measured phase.
      await unicastPhase(h, k, KCFG.rates[0], 4000);
      // the listed rates until one is not sustained, then once the midpoint between that one
      // and the last sustained one (to 500/s), so the highest sustained rate is known to ±25%
      const rates = [...KCFG.rates];
      let bisected = false;
      for (let i = 0; i < rates.length; i++) {
        const rate = rates[i];
        const p = await unicastPhase(h, k, rate, KCFG.phaseMs);
        r.unicast.push(p);
        h.log(
          `${name}: kafka ${rate}/s -> produced ${p.sent}${p.skipped ? ` (skipped ${p.skipped})` : ""} delivered ${p.delivered} (${Math.round(p.deliveredPerSec)}/s, ${Math.round(p.inWindowPerSec)}/s while sending) p50 ${p.p50.toFixed(2)} p99 ${p.p99.toFixed(2)} max ${p.max.toFixed(1)} ms; lag at end ${p.lagAtEnd} max ${p.lagMax}; cpu gw ${pctStr(p.cpu.server)} redis ${pctStr(p.cpu.deps[0])} kafka ${pctStr(p.cpu.deps[1])} others ${pctStr(p.cpu.others)}; loop p99 ${p.loopP99.toFixed(1)} max ${p.loopMax.toFixed(1)} ms; produce rtt p50 ${p.produceMs[0].toFixed(1)} p99 ${p.produceMs[1].toFixed(1)} ms`,
        );
        if (p.sendErrors)
          r.notes.push(
            `kafka ${rate}/s: ${p.sendErrors} producer sends failed (${p.sendErrorSample})`,
          );
        if (p.skipped)
          r.notes.push(
            `kafka ${rate}/s: producer skipped ${p.skipped} envelopes (${KCFG.maxInflight} sends unanswered)`,
          );
        if (p.lagBefore)
          r.notes.push(
            `kafka ${rate}/s: started with ${p.lagBefore} records of the previous rate still unconsumed`,
          );
        if (p.dups)
          r.notes.push(`kafka ${rate}/s: ${p.dups} duplicate push frames`);
        if (p.lost)
          r.notes.push(
            `kafka ${rate}/s: ${p.lost} links closed under load (codes ${p.lostCodes.join(",")})`,
          );
        if (p.delivered < p.sent)
          r.notes.push(
            `kafka ${rate}/s: ${p.sent - p.delivered} produced pushes not received by the end of the drain`,
          );
        if (p.sustained) continue;
        const okRates = r.unicast.filter((x) => x.sustained).map((x) => x.rate);
        const below = okRates.filter((x) => x < rate);
        const lo = below.length ? Math.max(...below) : 0;
        const mid = Math.round((lo + rate) / 2 / 500) * 500;
        if (!bisected && lo > 0 && mid > lo && mid < rate && rate - lo > 1000) {
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

    if (fanout) {
      const joins = await lgAll(
        h,
        lgs,
        { cmd: "join", room: KCFG.room, concurrency: 100, timeoutMs: 15000 },
        "joined",
        60000,
      );
      r.join = {
        ok: joins.reduce((a, j) => a + j.ok, 0),
        failed: joins.reduce((a, j) => a + j.failed, 0),
        ms: Math.max(...joins.map((j) => j.ms)),
        codes: joins.map((j) => j.codes),
      };
      h.log(
        `${name}: ${r.join.ok} links joined room ${KCFG.room} in ${r.join.ms} ms`,
      );
      if (r.join.failed)
        r.notes.push(
          `${r.join.failed} room joins failed (${JSON.stringify(r.join.codes)})`,
        );
      // the consumer follows the room on every member link before the first room push
      await h.sleep(500);
      const trigger = async (phase, rate, durationMs) => {
        await waitLag0(h, producer, 20000);
        const ran = await ask(
          h,
          producer,
          {
            cmd: "run",
            phase,
            kind: "room",
            room: KCFG.room,
            rate,
            durationMs,
            tickMs: KCFG.tickMs,
            maxInflight: KCFG.maxInflight,
            biz: h.CFG.biz,
            topic: ISOLATION.GATEWAY_PUSH_TOPIC,
            groupId: ISOLATION.GATEWAY_PUSH_GROUP_ID,
          },
          "ran",
          durationMs + 30000,
          `fan-out ${rate}/s`,
        );
        return { ...ran, errors: ran.errors, errorSample: ran.errorSample };
      };
      await fanoutSeries(h, t, lgs, r.join.ok, trigger, r);
    }
  } finally {
    await h.closeLoadgens(lgs);
    if (t.server) {
      await h.stopChild(t.server, "SIGTERM", 15000);
      if (t.server.exitCode)
        r.notes.push(
          `server exited with ${t.server.exitCode} on SIGTERM (see bench/results/gateway-kafka.log)`,
        );
    }
    await ask(
      h,
      producer,
      {
        cmd: "teardown",
        topics: TOPICS,
        groupId: ISOLATION.GATEWAY_PUSH_GROUP_ID,
      },
      "teardown",
      30000,
      "kafka teardown",
    ).catch((err) => h.log(`kafka teardown: ${err.message}`));
    await h.stopChild(producer, "SIGTERM", 3000);
    const n = await cleanRedis(ISOLATION.GATEWAY_REDIS_KEY_PREFIX).catch(
      () => 0,
    );
    h.log(`${name}: removed ${n} Redis keys of the run`);
  }
  return r;
}

/** The raw ws server with as many links, POST /fanout: the fan-out ceiling of this machine. */
async function runRawFanout(h, links) {
  const name = "raw ws (fan-out)";
  const r = { name, notes: [], fanout: [] };
  const t = { name, kind: "raw", depPids: [pidOfPort(6379), pidOfPort(9092)] };
  t.server = await h.startServer(
    "raw-ws-fanout",
    h.RAW_ENTRY,
    { ...process.env, RAW_PORT: String(KCFG.rawPort) },
    [KCFG.rawPort],
    `http://127.0.0.1:${KCFG.rawPort}/health`,
  );
  let lgs = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    lgs = await h.startLoadgens(h.CFG.loadgens);
    const o = await openAll(
      h,
      r,
      name,
      lgs,
      "raw",
      `ws://127.0.0.1:${KCFG.rawPort}/ws`,
      KCFG.rawAddrBase,
      links,
    );
    h.log(`${name}: ${o.ok} links in ${o.seconds.toFixed(1)} s`);
    // the same pacing as the producer: what is due every 10 ms tick, in one POST
    const trigger = (phase, rate, durationMs) =>
      new Promise((resolve) => {
        const st = {
          sent: 0,
          skipped: 0,
          errors: 0,
          errorSample: undefined,
          rawSkipped: 0,
        };
        let inflight = 0;
        let accounted = 0;
        const t0 = performance.now();
        const firstUs = nowUs();
        let endUs;
        const maybeDone = () => {
          if (endUs !== undefined && inflight === 0)
            resolve({ ...st, firstUs, endUs });
        };
        const timer = setInterval(() => {
          const elapsed = Math.min(durationMs, performance.now() - t0);
          const due = Math.floor((rate * elapsed) / 1000) - accounted;
          if (due > 0) {
            accounted += due;
            if (inflight >= KCFG.maxInflight) st.skipped += due;
            else {
              inflight++;
              h.httpJson("POST", `http://127.0.0.1:${KCFG.rawPort}/fanout`, {
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
                })
                .finally(() => {
                  inflight--;
                  maybeDone();
                });
            }
          }
          if (elapsed >= durationMs) {
            clearInterval(timer);
            endUs = nowUs();
            maybeDone();
          }
        }, KCFG.tickMs);
      });
    await fanoutSeries(h, t, lgs, o.ok, trigger, r);
  } finally {
    agent.destroy();
    await h.closeLoadgens(lgs);
    await h.stopChild(t.server, "SIGTERM", 10000);
  }
  return r;
}

// ---------------------------------------------------------------- report

function kafkaTable(h, gw, raw) {
  const ms = (x) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
  const k = (x) =>
    Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "n/a";
  const cols = [gw, raw].filter(Boolean);
  const head = ["metric", ...cols.map((c) => c.name), "goal"];
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
  if (gw && gw.unicast.length) {
    row("gateway.push partitions consumed", (c) =>
      isGw(c) ? String(c.assigned) : "",
    );
    for (const p of gw.unicast) {
      const cell = (f) => (c) => (isGw(c) ? f(p) : "");
      const r5 = p.rate === 5000;
      row(
        `kafka ${p.rate}/s: produced (acked) / offered`,
        cell((x) => `${x.sent} / ${x.offered}`),
      );
      row(
        `kafka ${p.rate}/s: delivered/s (while sending)`,
        cell((x) => `${k(x.deliveredPerSec)} (${k(x.inWindowPerSec)})`),
      );
      row(
        `kafka ${p.rate}/s: latency p50 / p99 (ms)`,
        cell((x) => `${ms(x.p50)} / ${r5 ? `**${ms(x.p99)}**` : ms(x.p99)}`),
        r5 ? "p99 < 25 ms" : "",
      );
      row(
        `kafka ${p.rate}/s: latency p99.9 / max (ms)`,
        cell((x) => `${ms(x.p999)} / ${ms(x.max)}`),
      );
      row(
        `kafka ${p.rate}/s: consumer lag at end of sending / max (records)`,
        cell((x) => `${x.lagAtEnd} / ${x.lagMax}`),
      );
      row(
        `kafka ${p.rate}/s: sustained`,
        cell((x) => (x.sustained ? "yes" : "**no**")),
      );
      row(
        `kafka ${p.rate}/s: CPU gateway / Redis / Kafka broker / clients+producer`,
        cell(
          (x) =>
            `${pctStr(x.cpu.server)} / ${pctStr(x.cpu.deps[0])} / ${pctStr(x.cpu.deps[1])} / ${pctStr(x.cpu.clients)}`,
        ),
      );
      row(
        `kafka ${p.rate}/s: CPU used outside the bench (noise)`,
        cell((x) => pctStr(x.cpu.others)),
      );
      row(
        `kafka ${p.rate}/s: gateway event-loop delay p99 / max (ms)`,
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
  const anyFan = cols.some((c) => c.fanout.length);
  if (anyFan) {
    if (gw && gw.join)
      row("room members (client join frames) / join time", (c) =>
        isGw(c)
          ? `${c.join.ok} / ${(c.join.ms / 1000).toFixed(1)} s`
          : "all links",
      );
    const rates = [
      ...new Set(cols.flatMap((c) => c.fanout.map((p) => p.rate))),
    ].sort((a, b) => a - b);
    for (const rate of rates) {
      const cell = (f) => (c) => {
        const p = c.fanout.find((x) => x.rate === rate);
        return p ? f(p) : "not run";
      };
      row(
        `fan-out ${rate} pushes/s: frames/s received (offered)`,
        cell((p) => `${k(p.fps)} (${k(p.offeredFps)})`),
      );
      row(
        `fan-out ${rate} pushes/s: latency p50 / p99 (ms)`,
        cell((p) => `${ms(p.p50)} / ${ms(p.p99)}`),
      );
      row(
        `fan-out ${rate} pushes/s: CPU server / clients / noise`,
        cell(
          (p) =>
            `${pctStr(p.cpu.server)} / ${pctStr(p.cpu.clients)} / ${pctStr(p.cpu.others)}`,
        ),
      );
      row(
        `fan-out ${rate} pushes/s: server CPU per frame (µs)`,
        cell((p) => p.serverUsPerFrame.toFixed(1)),
      );
    }
    row(
      "**fan-out frames/s (max over the rates)**",
      (c) =>
        `**${k(c.fanoutCeiling)}**${c.fanoutSaturated ? "" : " (not saturated: a floor)"}`,
    );
    if (gw && raw && gw.fanout.length && raw.fanout.length) {
      row(
        "**gateway fan-out ÷ raw ws ceiling**",
        (c) =>
          isGw(c)
            ? `**${(gw.fanoutCeiling / raw.fanoutCeiling).toFixed(2)}×**`
            : "1.00×",
        "≥ 0.5×",
      );
      // at the highest rate both ran: what one frame costs each server
      const common = gw.fanout.filter((p) =>
        raw.fanout.some((q) => q.rate === p.rate),
      );
      const last = common[common.length - 1];
      if (last) {
        const q = raw.fanout.find((x) => x.rate === last.rate);
        row(
          `server CPU per frame at ${last.rate} pushes/s, raw ws ÷ gateway (1 = as cheap as raw)`,
          (c) =>
            isGw(c)
              ? `${(q.serverUsPerFrame / last.serverUsPerFrame).toFixed(2)}×`
              : "1.00×",
        );
      }
    }
  }
  const lines = [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i === 0 || i === head.length - 1 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
  const out = [
    "### Kafka push and room fan-out",
    "",
    `Unicast: a kafkajs producer process publishes {bizId, to: {users: [u]}, body: {t, p}} keyed by the user to ${KCFG.partitions} partitions, random connected users, ${KCFG.phaseMs / 1000} s per rate, one send per ${KCFG.tickMs} ms (acks=1, no compression); one gateway node in cluster mode consumes them with the default mailbox (every push stored with a seq). Latency from the producer's CLOCK_MONOTONIC timestamp to the client's parse. "While sending": pushes received before the producer stopped, per second of sending. Lag: end offsets minus the group's committed offsets, sampled every 500 ms. Sustained: ≥ 95% delivered per second and a lag under half a second of records at the end of sending. CPU of Redis and the Kafka broker is theirs (they serve only this bench meanwhile, unless tests run); "noise" is everything else outside the bench.`,
    `Fan-out: every link joined room "${KCFG.room}" (one user per link), room pushes through Kafka (keyed by the room) at each rate for ${KCFG.fanoutPhaseMs / 1000} s; clients count frames and parse one in ${KCFG.fanoutSample} for latency. Raw ws: the same links on bench/raw-ws-server.js, POST /fanout each 10 ms tick (each frame encoded and framed once, written to every socket in one corked batch). frames/s = frames received by all clients / (first push to last frame). Rates stop once one is not carried (< 90%): the last one measures the ceiling. The load generators share the CPUs with the server (one socket read per frame for them, one socket write per frame and link for the server), so a ceiling is the machine's, clients included; "server CPU per frame" is the server's own cost.`,
    "",
    ...lines,
    "",
  ];
  const notes = [];
  for (const c of cols)
    for (const n of c.notes) notes.push(`- ${c.name}: ${n}`);
  if (notes.length) out.push("Notes:", ...notes, "");
  return out.join("\n");
}

module.exports = {
  KCFG,
  ISOLATION,
  runKafkaGateway,
  runRawFanout,
  kafkaTable,
  cleanRedis,
};
