"use strict";
/**
 * `make bench`: the gateway against a raw `ws` server on this machine, loopback only.
 * Assumes `npm run build` ran (dist/src/main.js). Prints a markdown table and writes it to
 * bench/results/latest.md; no pass/fail (exit 1 only when the bench itself could not run).
 *
 * For each server (raw ws, gateway embedded, gateway cluster when Redis/etcd/Kafka answer):
 *   1. start it (node --expose-gc -r bench/mem-probe.js), wait until it answers HTTP
 *   2. warm up: 200 links + a few pushes, close them, wait until the server holds none
 *   3. baseline memory: two forced full GCs, then the median of 3 readings (mem-probe, over IPC)
 *   4. open BENCH_LINKS links in two equal steps from BENCH_LOADGENS processes, each link from
 *      a distinct 127.x.y.z source (500 per address); memory again after each step.
 *      connect rate = links / wall time to the last `connected` frame;
 *      RSS per link = Δ(RSS − V8 young generation) / links (the young generation is sized by
 *      the allocation rate, not the link count); "marginal" = the same over the second step
 *   5. unicast pushes to random connected users at each BENCH_RATES rate for BENCH_PHASE_MS,
 *      what is due every 10 ms tick in one POST: delivered/s, end-to-end latency from the
 *      timestamp in the body, POST round trip, server CPU and event-loop delay, CPU taken by
 *      other processes (noise); higher rates are skipped once one is not sustained
 *   6. memory once more: JS heap still held per push (a leak or a store shows here)
 * Gateway and raw server run one at a time, on their own ports (not 9002/9003), the cluster
 * node with its own Redis prefix, etcd prefix, Kafka group and topics.
 *
 * Env knobs: BENCH_LINKS (10000) BENCH_LOADGENS (4) BENCH_RATES (1000,5000,10000)
 * BENCH_PHASE_MS (10000) BENCH_CLUSTER (auto|0|1) BENCH_GW_PORT (9202) BENCH_GOV_PORT (9203)
 * BENCH_RAW_PORT (9102) BENCH_CLUSTER_GW_PORT (9212) BENCH_CLUSTER_GOV_PORT (9213)
 * BENCH_GATEWAY_ENTRY (the gateway's main.js, default dist/src/main.js: to compare another build)
 * BENCH_GATEWAY_ENV ("GATEWAY_X=1 GATEWAY_Y=2": extra settings for the gateway under test)
 * BENCH_HEAP_SNAPSHOTS (dir: heap snapshots of each server at 0 links and with all links)
 * BENCH_DEBUG_MEM (1: log every memory reading with V8's heap spaces)
 * BENCH_DUMP (file: append every push sample as [send µs, latency ms] per phase)
 * BENCH_ONLY (raw,gateway,cluster,kafka,fanout: the targets to run) BENCH_GATEWAY_NODE_ARGS (extra node flags for the gateway, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
 *
 * Kafka scenarios (bench/kafka-bench.js, a second table; need Redis, etcd and Kafka):
 *   kafka   unicast pushes produced to Kafka (kafkajs, own process) -> one cluster-mode gateway
 *           node -> clients, mailbox on, at each BENCH_KAFKA_RATES rate: delivered/s, latency,
 *           consumer lag, the highest sustained rate
 *   fanout  the same node's links all join one room; room pushes through Kafka, frames/s
 *           received by all clients, against a raw ws server writing pre-framed messages to as
 *           many links (the ceiling), and the ratio
 *   knobs: BENCH_KAFKA_LINKS (10000) BENCH_KAFKA_RATES (5000,10000,20000,30000)
 *   BENCH_KAFKA_PHASE_MS (8000) BENCH_KAFKA_PARTITIONS (12) BENCH_FANOUT_RATES (pushes/s:
 *   5,10,20,40) BENCH_FANOUT_PHASE_MS (5000) BENCH_KAFKA_GW_PORT (9222) BENCH_KAFKA_GOV_PORT
 *   (9223) BENCH_FANOUT_RAW_PORT (9112)
 */
const { fork, execFileSync } = require("node:child_process");
const fs = require("node:fs");
const http = require("node:http");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const GATEWAY_ENTRY = process.env.BENCH_GATEWAY_ENTRY
  ? path.resolve(process.env.BENCH_GATEWAY_ENTRY)
  : path.join(ROOT, "dist/src/main.js");
const RAW_ENTRY = path.join(__dirname, "raw-ws-server.js");
const LOADGEN = path.join(__dirname, "loadgen.js");
const PROBE = path.join(__dirname, "mem-probe.js");
const kafkaBench = require("./kafka-bench");
const RESULTS = path.join(__dirname, "results");

const env = process.env;
const int = (v, d) =>
  v !== undefined && v !== "" && Number.isFinite(Number(v))
    ? Math.floor(Number(v))
    : d;
const CFG = {
  links: int(env.BENCH_LINKS, 10000),
  loadgens: Math.max(1, int(env.BENCH_LOADGENS, 4)),
  perAddr: 500,
  concurrency: 50, // handshakes in flight per loadgen process
  warmupLinks: 200,
  rates: (env.BENCH_RATES || "1000,5000,10000")
    .split(",")
    .map((r) => int(r.trim(), 0))
    .filter((r) => r > 0),
  phaseMs: int(env.BENCH_PHASE_MS, 10000),
  tickMs: 10,
  maxInflight: 64, // POSTs in flight before the pusher skips ticks (and says so)
  cluster: (env.BENCH_CLUSTER || "auto").toLowerCase(),
  only: new Set(
    (env.BENCH_ONLY || "raw,gateway,cluster,kafka,fanout")
      .split(",")
      .map((x) => x.trim()),
  ),
  rawPort: int(env.BENCH_RAW_PORT, 9102),
  gwPort: int(env.BENCH_GW_PORT, 9202),
  govPort: int(env.BENCH_GOV_PORT, 9203),
  clusterGwPort: int(env.BENCH_CLUSTER_GW_PORT, 9212),
  clusterGovPort: int(env.BENCH_CLUSTER_GOV_PORT, 9213),
  jwtSecret: "bench-jwt-secret-0123456789abcdef",
  adminToken: "bench-admin-token-0123456789abcdef",
  biz: "bench",
  deadlineMs: 11 * 60 * 1000,
};

// ---------------------------------------------------------------- children and cleanup

const children = new Set();

function track(child) {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

function killAll() {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
}

process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(sig, () => {
    process.stderr.write(`\nbench: ${sig}, stopping children\n`);
    killAll();
    process.exit(130);
  });
}
process.on("uncaughtException", (err) => {
  process.stderr.write(`bench: ${err.stack || err}\n`);
  killAll();
  process.exit(1);
});
setTimeout(() => {
  process.stderr.write(
    `bench: exceeded ${CFG.deadlineMs / 1000} s, giving up\n`,
  );
  killAll();
  process.exit(1);
}, CFG.deadlineMs).unref();

const LOAD_AT_START = os
  .loadavg()
  .map((x) => x.toFixed(2))
  .join(" ");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const exited = (c) => c.exitCode !== null || c.signalCode !== null;

/** Resolves with the first IPC message of `child` matching `pred`; rejects on exit or timeout. */
function waitMessage(child, pred, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    if (exited(child))
      return reject(new Error(`${what}: process ${child.pid} is not running`));
    const onMsg = (m) => {
      if (pred(m)) {
        done();
        resolve(m);
      }
    };
    const onExit = (code, sig) => {
      done();
      reject(
        new Error(`${what}: process ${child.pid} exited (${code ?? sig})`),
      );
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${what}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    function done() {
      clearTimeout(timer);
      child.off("message", onMsg);
      child.off("exit", onExit);
    }
    child.on("message", onMsg);
    child.once("exit", onExit);
  });
}

function waitExit(child, timeoutMs) {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function stopChild(child, signal, graceMs) {
  if (!child || exited(child)) return;
  child.stopping = true;
  child.kill(signal);
  if (!(await waitExit(child, graceMs))) {
    child.kill("SIGKILL");
    await waitExit(child, 5000);
  }
}

// ---------------------------------------------------------------- http

function httpJson(
  method,
  url,
  { body, headers = {}, agent, timeoutMs = 5000 } = {},
) {
  return new Promise((resolve, reject) => {
    const payload =
      body === undefined
        ? undefined
        : typeof body === "string"
          ? body
          : JSON.stringify(body);
    const req = http.request(url, {
      method,
      agent,
      headers: {
        ...headers,
        ...(payload
          ? {
              "Content-Type": "application/json",
              "Content-Length": Buffer.byteLength(payload),
            }
          : {}),
      },
      timeout: timeoutMs,
    });
    req.on("timeout", () =>
      req.destroy(new Error(`${method} ${url}: timeout after ${timeoutMs} ms`)),
    );
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, text, json });
      });
    });
    req.end(payload);
  });
}

function portOpen(port, host = "127.0.0.1", timeoutMs = 500) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (v) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

// ---------------------------------------------------------------- servers under test

/**
 * Forks a server with the memory probe preloaded, keeps its output in bench/results/<name>.log
 * and resolves once `readyUrl` answers 200 (rejecting with the output tail if it dies first).
 */
async function startServer(name, entry, childEnv, ports, readyUrl, check) {
  for (const p of ports)
    if (await portOpen(p))
      throw new Error(
        `${name}: port ${p} is already in use (another instance running? set the BENCH_*_PORT variables)`,
      );
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "ws-bench-"));
  const logPath = path.join(RESULTS, `${name}.log`);
  const out = fs.createWriteStream(logPath);
  const tail = [];
  const child = track(
    fork(entry, [], {
      cwd,
      env: childEnv,
      execArgv: [
        "--expose-gc",
        "-r",
        PROBE,
        // the gateway runs with the flags it ships with (Makefile NODE_FLAGS, Dockerfile, npm start)
        ...(entry === GATEWAY_ENTRY
          ? (env.BENCH_GATEWAY_NODE_ARGS ?? "--max-semi-space-size=64 --v8-pool-size=1")
              .split(" ")
              .filter(Boolean)
          : []),
      ],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    }),
  );
  const keep = (chunk) => {
    out.write(chunk);
    for (const line of chunk.toString().split("\n"))
      if (line.trim()) tail.push(line);
    while (tail.length > 30) tail.shift();
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.once("exit", (code, sig) => {
    if (!child.stopping)
      log(
        `${name} (pid ${child.pid}) exited unexpectedly with ${code ?? sig}; output in ${path.relative(ROOT, logPath)}`,
      );
    out.end();
  });
  child.tail = tail;
  child.logPath = logPath;
  const deadline = Date.now() + 30000;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (exited(child)) break;
    try {
      const r = await httpJson("GET", readyUrl, { timeoutMs: 1000 });
      if (r.status === 200) {
        if (check) check(r);
        return child;
      }
      last = `HTTP ${r.status} ${r.text.slice(0, 200)}`;
    } catch (err) {
      last = err.message;
    }
    await sleep(100);
  }
  await stopChild(child, "SIGKILL", 1000);
  const why = exited(child)
    ? `exited with ${child.exitCode ?? child.signalCode}`
    : `did not answer ${readyUrl} within 30 s (${last})`;
  throw new Error(
    `${name} failed to start: ${why}\n--- last output (${logPath}) ---\n${tail.join("\n")}`,
  );
}

function gatewayEnv(
  mode,
  gwPort,
  govPort,
  nodeId,
  isolation = CLUSTER_ISOLATION,
) {
  const e = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("GATEWAY_") && k !== "CONFIG_FILE") e[k] = v;
  return Object.assign(
    e,
    {
      GATEWAY_MODE: mode,
      GATEWAY_NODE_ID: nodeId,
      GATEWAY_PORT: String(gwPort),
      GATEWAY_GOVERNANCE_PORT: String(govPort),
      GATEWAY_LOG_LEVEL: "warn",
      GATEWAY_JWT_SECRET: CFG.jwtSecret,
      GATEWAY_ADMIN_TOKEN: CFG.adminToken,
      GATEWAY_GATEWAY_MAX_CONNECTIONS: String(
        Math.max(25000, CFG.links + CFG.warmupLinks + 1000),
      ),
      GATEWAY_UPGRADER_RATE_PER_IP: "1000000",
    },
    mode === "cluster" ? isolation : {},
    extraGatewayEnv(),
  );
}

/**
 * The cluster-mode bench node shares Redis, etcd and Kafka with whatever else runs here (tests,
 * a dev node): its own key prefix, registry prefix, consumer group and topics keep it from
 * joining their cluster, taking their Kafka partitions or mixing its data with theirs.
 */
const CLUSTER_ISOLATION = {
  GATEWAY_REDIS_KEY_PREFIX: "gwbench:",
  GATEWAY_ETCD_PREFIX: "/gateway-bench/nodes/",
  GATEWAY_PUSH_TOPIC: "bench.gateway.push",
  GATEWAY_PUSH_DLQ_TOPIC: "bench.gateway.push.dlq",
  GATEWAY_PUSH_EVENTS_TOPIC: "bench.gateway.events",
  GATEWAY_PUSH_GROUP_ID: "ws-gateway-bench",
};

/** BENCH_GATEWAY_ENV="GATEWAY_X=1 GATEWAY_Y=2": extra settings for the gateway under test */
function extraGatewayEnv() {
  const out = {};
  for (const kv of (env.BENCH_GATEWAY_ENV || "").split(/\s+/).filter(Boolean)) {
    const i = kv.indexOf("=");
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

let probeSeq = 0;
async function loopDelay(child) {
  const id = ++probeSeq;
  const reply = waitMessage(
    child,
    (m) => m && m.probe === "loop" && m.id === id,
    15000,
    "loop probe",
  );
  child.send({ probe: "loop", id });
  return reply;
}

async function memOnce(child, gc) {
  const id = ++probeSeq;
  const reply = waitMessage(
    child,
    (m) => m && m.probe === "mem" && m.id === id,
    15000,
    "memory probe",
  );
  child.send({ probe: "mem", id, gc });
  const m = await reply;
  if (env.BENCH_DEBUG_MEM)
    log(
      `mem ${JSON.stringify({ rss: mib(m.rss), heapUsed: mib(m.heapUsed), spaces: Object.fromEntries(Object.entries(m.spaces).map(([k, v]) => [k, mib(v)])) })}`,
    );
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    gc: m.gc,
    vmRss: vmRss(child.pid),
    spaces: m.spaces,
  };
}

function vmRss(pid) {
  try {
    const line = fs
      .readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("VmRSS:"));
    return line ? Number(line.split(/\s+/)[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** BENCH_HEAP_SNAPSHOTS=<dir>: a heap snapshot of the server next to each memory reading. */
async function snapshot(t, label) {
  if (!env.BENCH_HEAP_SNAPSHOTS) return;
  fs.mkdirSync(env.BENCH_HEAP_SNAPSHOTS, { recursive: true });
  const id = ++probeSeq;
  const file = path.resolve(
    env.BENCH_HEAP_SNAPSHOTS,
    `${t.logName}-${label}.heapsnapshot`,
  );
  const reply = waitMessage(
    t.server,
    (m) => m && m.probe === "snapshot" && m.id === id,
    120000,
    "heap snapshot",
  );
  t.server.send({ probe: "snapshot", id, file });
  await reply;
  log(`${t.name}: heap snapshot ${file}`);
}

/** Memory once the server holds `links` links (waits up to 5 s for it) and a 1 s settle. */
async function steadyMemAt(t, links) {
  const n = await waitLinks(t, links, 5000);
  await sleep(1000);
  return { ...(await steadyMem(t.server)), links: n };
}

/** A reading without forcing GC, then the median of 3 readings each after two full GCs. */
async function steadyMem(child) {
  const noGc = await memOnce(child, false);
  const samples = [];
  for (let i = 0; i < 3; i++) {
    if (i) await sleep(300);
    samples.push(await memOnce(child, true));
  }
  return {
    noGcRss: noGc.rss,
    rss: median(samples.map((s) => s.rss)),
    young: median(samples.map((s) => s.spaces.new_space ?? 0)),
    // RSS without V8's young generation, whose size follows the allocation rate, not the links
    core: median(samples.map((s) => s.rss - (s.spaces.new_space ?? 0))),
    heapUsed: median(samples.map((s) => s.heapUsed)),
    external: median(samples.map((s) => s.external)),
    gc: samples.every((s) => s.gc),
    vmRss: median(samples.map((s) => s.vmRss ?? s.rss)),
  };
}

function cpuTicks(pid) {
  try {
    const fields = fs
      .readFileSync(`/proc/${pid}/stat`, "utf8")
      .split(") ")[1]
      .split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
  } catch {
    return NaN;
  }
}
/** busy jiffies of the whole machine (all CPUs) */
function machineTicks() {
  try {
    const f = fs
      .readFileSync("/proc/stat", "utf8")
      .split("\n")[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    // user nice system idle iowait irq softirq steal
    return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  } catch {
    return NaN;
  }
}
/** CPU jiffies of the bench itself: this process and every child it started */
function benchTicks() {
  let sum = cpuTicks(process.pid);
  for (const c of children) if (!exited(c)) sum += cpuTicks(c.pid);
  return sum;
}

const CLK_TCK = (() => {
  try {
    return (
      Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
    );
  } catch {
    return 100;
  }
})();

// ---------------------------------------------------------------- load generators

async function startLoadgens(n) {
  const lgs = [];
  for (let i = 0; i < n; i++) {
    // a large young generation: fewer scavenges in the clients, whose pauses would otherwise
    // show up as push latency of whichever server is measured
    const child = track(
      fork(LOADGEN, [], {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        execArgv: [...process.execArgv, "--max-semi-space-size=64"],
      }),
    );
    child.setMaxListeners(50);
    lgs.push(child);
  }
  await Promise.all(
    lgs.map((c) =>
      waitMessage(c, (m) => m && m.ev === "ready", 15000, "loadgen start"),
    ),
  );
  return lgs;
}

async function closeLoadgens(lgs) {
  for (const c of lgs) if (!exited(c) && c.connected) c.send({ cmd: "close" });
  await Promise.all(
    lgs.map((c) => stopChild(c, "SIGKILL", 5000).catch(() => undefined)),
  );
}

/**
 * Opens `total` links spread over `lgs`; loadgen i binds 127.<addrBase>.<i+1>.<k+1>.
 * Returns counts, the user indices that got `connected`, and the wall time for all of them.
 */
async function openLinks(
  lgs,
  target,
  url,
  addrBase,
  total,
  userBase = 0,
  addrOffset = 0,
) {
  const per = Math.ceil(total / lgs.length);
  const started = process.hrtime.bigint();
  const replies = lgs.map((c, i) => {
    const first = userBase + i * per;
    const count = Math.max(0, Math.min(per, total - i * per));
    const addrs = Array.from(
      { length: Math.max(1, Math.ceil(count / CFG.perAddr)) },
      (_, k) => `127.${addrBase}.${i + 1}.${addrOffset + k + 1}`,
    );
    const reply = waitMessage(
      c,
      (m) => m && (m.ev === "opened" || m.ev === "error"),
      180000,
      `opening ${count} links`,
    );
    c.send({
      cmd: "open",
      target,
      url,
      users: [first, count],
      addrs,
      perAddr: CFG.perAddr,
      concurrency: CFG.concurrency,
      secret: CFG.jwtSecret,
      biz: CFG.biz,
      timeoutMs: 15000,
    });
    return reply;
  });
  const res = await Promise.all(replies);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const bad = res.find((r) => r.ev === "error");
  if (bad) throw new Error(`loadgen failed: ${bad.message}`);
  return {
    ok: res.reduce((a, r) => a + r.ok, 0),
    failed: res.reduce((a, r) => a + r.failed, 0),
    okUsers: res.flatMap((r) => r.okUsers),
    errors: res.flatMap((r) => r.errors).slice(0, 5),
    seconds,
  };
}

async function loadgenCount(lgs, phase) {
  const rs = await Promise.all(
    lgs.map((c) => {
      const r = waitMessage(
        c,
        (m) => m && m.ev === "count" && m.phase === phase,
        10000,
        "count",
      );
      c.send({ cmd: "count", phase });
      return r;
    }),
  );
  return rs.reduce((a, r) => a + r.count, 0);
}

async function loadgenStats(lgs, phase) {
  const rs = await Promise.all(
    lgs.map((c) => {
      const r = waitMessage(
        c,
        (m) => m && m.ev === "stats" && m.phase === phase,
        30000,
        "stats",
      );
      c.send({ cmd: "stats", phase });
      return r;
    }),
  );
  if (env.BENCH_DUMP) {
    // [send µs, latency ms] of every sample, to see when slow pushes happen
    const pairs = rs.flatMap((r) => r.lat.map((l, i) => [r.sent[i], l]));
    pairs.sort((a, b) => a[0] - b[0]);
    fs.appendFileSync(env.BENCH_DUMP, JSON.stringify({ phase, pairs }) + "\n");
  }
  const lat = new Float64Array(rs.reduce((a, r) => a + r.lat.length, 0));
  let o = 0;
  for (const r of rs) {
    lat.set(r.lat, o);
    o += r.lat.length;
  }
  lat.sort();
  return {
    count: rs.reduce((a, r) => a + r.count, 0),
    lat,
    dups: rs.reduce((a, r) => a + r.dups, 0),
    lastUs: Math.max(0, ...rs.map((r) => r.lastUs)),
    lost: rs.reduce((a, r) => a + r.lost, 0),
    lostCodes: [...new Set(rs.flatMap((r) => r.lostCodes))],
    unexpected: rs.reduce((a, r) => a + r.unexpected, 0),
  };
}

const { pct } = require("./stats");

// ---------------------------------------------------------------- pushing

let phaseSeq = 0;

/**
 * Unicast pushes at `rate`/s for `durationMs` to random users of `users`: every tick sends what
 * is due in POSTs of at most 1000 envelopes. Ticks are skipped (and counted) when maxInflight
 * POSTs are pending, so an overloaded server shows up as a lower sent rate, not an unbounded queue.
 */
async function pushPhase(t, lgs, users, rate, durationMs) {
  const phase = ++phaseSeq;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const st = {
    phase,
    rate,
    sent: 0,
    skipped: 0,
    posts: 0,
    httpErrors: 0,
    errorSample: undefined,
    notRouted: 0,
    inflight: 0,
  };
  await loopDelay(t.server); // resets the server's event-loop histogram
  const cpu0 = cpuTicks(t.server.pid);
  const machine0 = machineTicks();
  const bench0 = benchTicks();
  const wall0 = process.hrtime.bigint();
  const t0 = performance.now();
  let idle;
  const allAnswered = new Promise((r) => (idle = r));
  let finished = false;
  const rtts = [];

  const post = (n) => {
    const ts = Number(process.hrtime.bigint() / 1000n);
    const items = new Array(n);
    for (let i = 0; i < n; i++)
      items[i] = t.envelope(`u${users[(Math.random() * users.length) | 0]}`, {
        t: ts,
        p: phase,
      });
    st.inflight++;
    st.posts++;
    const sentAt = performance.now();
    httpJson("POST", t.pushUrl, {
      body: items,
      headers: t.pushHeaders,
      agent,
      timeoutMs: 15000,
    })
      .then((r) => {
        if (r.status !== 202 && r.status !== 200) {
          st.httpErrors++;
          st.errorSample ??= `HTTP ${r.status} ${r.text.slice(0, 200)}`;
          return;
        }
        st.sent += n;
        rtts.push(performance.now() - sentAt);
        const results = Array.isArray(r.json)
          ? r.json
          : (r.json && r.json.results) || [r.json];
        for (const x of results) if (!x || !x.routed) st.notRouted++;
      })
      .catch((err) => {
        st.httpErrors++;
        st.errorSample ??= err.message;
      })
      .finally(() => {
        st.inflight--;
        if (finished && st.inflight === 0) idle();
      });
  };

  let accounted = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Math.min(durationMs, performance.now() - t0);
      let due = Math.floor((rate * elapsed) / 1000) - accounted;
      while (due > 0) {
        const n = Math.min(due, 1000);
        if (st.inflight >= CFG.maxInflight) {
          st.skipped += due;
          accounted += due;
          break;
        }
        post(n);
        accounted += n;
        due -= n;
      }
      if (elapsed >= durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, CFG.tickMs);
  });
  const sendSeconds = Number(process.hrtime.bigint() - wall0) / 1e9;
  finished = true;
  if (st.inflight > 0) await Promise.race([allAnswered, sleep(20000)]);
  // wait (bounded) until what the server accepted has reached the clients
  const expected = st.sent - st.notRouted;
  const drainDeadline = Date.now() + 5000;
  let got = await loadgenCount(lgs, phase);
  while (got < expected && Date.now() < drainDeadline) {
    await sleep(100);
    got = await loadgenCount(lgs, phase);
  }
  const cpuSeconds = (cpuTicks(t.server.pid) - cpu0) / CLK_TCK;
  // CPU that processes outside the bench took meanwhile (other work on the machine)
  const othersCpu =
    Math.max(0, machineTicks() - machine0 - (benchTicks() - bench0)) /
    CLK_TCK /
    sendSeconds;
  const loop = await loopDelay(t.server);
  agent.destroy();
  const s = await loadgenStats(lgs, phase);
  return {
    ...st,
    offered: accounted,
    sendSeconds,
    delivered: s.count,
    dups: s.dups,
    // distinct pushes received over the time from the first send to the last receipt (or the sending time if longer)
    deliveredPerSec:
      s.count /
      Math.max(
        sendSeconds,
        s.lastUs ? (s.lastUs - Number(wall0 / 1000n)) / 1e6 : 0,
      ),
    p50: pct(s.lat, 0.5),
    p99: pct(s.lat, 0.99),
    p999: pct(s.lat, 0.999),
    max: s.lat.length ? s.lat[s.lat.length - 1] : NaN,
    serverCpu: cpuSeconds / sendSeconds,
    othersCpu,
    loopP99: loop.p99,
    postP50: pct(Float64Array.from(rtts).sort(), 0.5),
    postP99: pct(Float64Array.from(rtts).sort(), 0.99),
    batch: st.posts ? accounted / st.posts : 0,
    loopMax: loop.max,
    lost: s.lost,
    lostCodes: s.lostCodes,
  };
}

// ---------------------------------------------------------------- one target end to end

async function countLinks(t) {
  if (exited(t.server))
    throw new Error(
      `${t.name} exited (${t.server.exitCode ?? t.server.signalCode}); last output:\n${t.server.tail.join("\n")}`,
    );
  if (t.kind === "raw")
    return (await httpJson("GET", `http://127.0.0.1:${CFG.rawPort}/health`))
      .json.links;
  const r = await httpJson("GET", `http://127.0.0.1:${t.govPort}/metrics`);
  const m = /^websocket_gateway_connections (\S+)$/m.exec(r.text);
  return m ? Number(m[1]) : NaN;
}

async function waitLinks(t, want, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let n = await countLinks(t);
  while (n !== want && Date.now() < deadline) {
    await sleep(100);
    n = await countLinks(t);
  }
  return n;
}

async function runTarget(t) {
  const r = { name: t.name, notes: [] };
  log(`${t.name}: starting`);
  t.server = await startServer(
    t.logName,
    t.entry,
    t.env,
    t.ports,
    t.readyUrl,
    t.check,
  );
  let lgs = [];
  try {
    // warm-up: pay for lazy init / JIT before the baseline, then give everything back
    const warm = await startLoadgens(1);
    const w = await openLinks(
      warm,
      t.kind,
      t.wsUrl,
      t.addrBase + 100,
      CFG.warmupLinks,
      900000,
    );
    if (w.ok === 0)
      throw new Error(
        `${t.name}: no warm-up link connected: ${w.errors.join("; ")}`,
      );
    await pushPhase(
      t,
      warm,
      w.okUsers.map((u) => u),
      500,
      400,
    );
    await closeLoadgens(warm);
    const left = await waitLinks(t, 0, 10000);
    if (left !== 0)
      r.notes.push(`${left} warm-up links still open at baseline`);

    lgs = await startLoadgens(CFG.loadgens);
    await sleep(500);
    r.memBefore = await steadyMem(t.server);
    await snapshot(t, "0-links");
    log(
      `${t.name}: baseline rss ${mib(r.memBefore.rss)} MiB; opening ${CFG.links} links`,
    );

    // two equal steps, memory read after each: the second step gives the marginal cost of a
    // link once the heap and the allocator have grown, the total gives the cost from idle
    const half = Math.floor(CFG.links / 2);
    const o1 = await openLinks(lgs, t.kind, t.wsUrl, t.addrBase, half, 0, 0);
    r.memHalf = await steadyMemAt(t, o1.ok);
    const o2 = await openLinks(
      lgs,
      t.kind,
      t.wsUrl,
      t.addrBase,
      CFG.links - half,
      half,
      50,
    );
    const o = {
      ok: o1.ok + o2.ok,
      failed: o1.failed + o2.failed,
      okUsers: [...o1.okUsers, ...o2.okUsers],
      errors: [...o1.errors, ...o2.errors].slice(0, 5),
      seconds: o1.seconds + o2.seconds,
    };
    r.open = o;
    if (o.failed)
      r.notes.push(
        `${o.failed} links failed to connect (e.g. ${o.errors.join("; ")})`,
      );
    if (o.ok === 0)
      throw new Error(`${t.name}: no link connected: ${o.errors.join("; ")}`);
    r.connectRate = o.ok / o.seconds;
    log(
      `${t.name}: ${o.ok} links in ${o.seconds.toFixed(2)} s (${Math.round(r.connectRate)}/s); settling`,
    );
    r.memWith = await steadyMemAt(t, o.ok);
    await snapshot(t, `${o.ok}-links`);
    r.serverLinks = r.memWith.links;
    if (r.serverLinks !== o.ok)
      r.notes.push(`server reports ${r.serverLinks} links, clients ${o.ok}`);
    r.rssPerLink = (r.memWith.core - r.memBefore.core) / o.ok;
    r.rssPerLinkMarginal = o2.ok
      ? (r.memWith.core - r.memHalf.core) / o2.ok
      : NaN;
    r.rssPerLinkRaw = (r.memWith.rss - r.memBefore.rss) / o.ok;
    r.rssPerLinkNoGc = (r.memWith.noGcRss - r.memBefore.noGcRss) / o.ok;
    r.heapPerLink = (r.memWith.heapUsed - r.memBefore.heapUsed) / o.ok;
    log(
      `${t.name}: rss ${mib(r.memBefore.rss)} / ${mib(r.memHalf.rss)} / ${mib(r.memWith.rss)} MiB at 0 / ${o1.ok} / ${o.ok} links (young gen ${mib(r.memBefore.young)} / ${mib(r.memHalf.young)} / ${mib(r.memWith.young)}): ${kib(r.rssPerLink)} KiB/link from idle, ${kib(r.rssPerLinkMarginal)} marginal (without young gen), ${kib(r.rssPerLinkRaw)} plain RSS, heap ${kib(r.heapPerLink)}, no-GC ${kib(r.rssPerLinkNoGc)}`,
    );

    r.push = [];
    for (const rate of CFG.rates) {
      const p = await pushPhase(t, lgs, o.okUsers, rate, CFG.phaseMs);
      r.push.push(p);
      log(
        `${t.name}: ${rate}/s -> sent ${p.sent} delivered ${p.delivered} (${Math.round(p.deliveredPerSec)}/s) p50 ${p.p50.toFixed(2)} p99 ${p.p99.toFixed(2)} max ${p.max.toFixed(1)} ms; cpu ${(p.serverCpu * 100).toFixed(0)}%; others ${(p.othersCpu * 100).toFixed(0)}%; loop delay p99 ${p.loopP99.toFixed(1)} max ${p.loopMax.toFixed(1)} ms; POST rtt p50 ${p.postP50.toFixed(2)} p99 ${p.postP99.toFixed(2)} ms (${p.batch.toFixed(0)}/POST)${p.skipped ? `; skipped ${p.skipped}` : ""}${p.httpErrors ? `; http errors ${p.httpErrors}: ${p.errorSample}` : ""}`,
      );
      if (p.httpErrors)
        r.notes.push(
          `${rate}/s: ${p.httpErrors} POSTs failed (${p.errorSample})`,
        );
      if (p.skipped)
        r.notes.push(
          `${rate}/s: pusher skipped ${p.skipped} pushes (${CFG.maxInflight} POSTs pending): server saturated`,
        );
      if (p.dups)
        r.notes.push(
          `${rate}/s: ${p.dups} duplicate push frames (same mid received again)`,
        );
      if (p.lost)
        r.notes.push(
          `${rate}/s: ${p.lost} links closed under load (codes ${p.lostCodes.join(",")})`,
        );
      if (p.sent - p.notRouted > p.delivered)
        r.notes.push(
          `${rate}/s: ${p.sent - p.notRouted - p.delivered} accepted pushes not received within 5 s`,
        );
      if (p.notRouted)
        r.notes.push(`${rate}/s: ${p.notRouted} pushes answered routed=0`);
      // a rate the server could not carry: higher ones would only measure the queue
      if (p.deliveredPerSec < rate * 0.8 || p.skipped > rate) {
        r.notes.push(`stopped after ${rate}/s (not sustained)`);
        break;
      }
    }
    // pushes must not leave memory behind: the same forced-GC reading after them
    r.memAfterPush = await steadyMemAt(t, o.ok);
    const pushed = r.push.reduce((a, p) => a + p.sent, 0);
    r.pushed = pushed;
    r.retainedPerPush = pushed
      ? (r.memAfterPush.heapUsed - r.memWith.heapUsed) / pushed
      : NaN;
    log(
      `${t.name}: after pushes rss ${mib(r.memAfterPush.rss)} MiB, heap ${mib(r.memAfterPush.heapUsed)} MiB (before pushes ${mib(r.memWith.heapUsed)} MiB)`,
    );
  } finally {
    await closeLoadgens(lgs);
    if (t.server && !exited(t.server))
      r.memAfterClose = await memOnce(t.server, false).catch(() => undefined);
    await stopChild(t.server, "SIGTERM", 15000);
    if (t.server.exitCode && t.server.exitCode !== 0)
      r.notes.push(
        `server exited with ${t.server.exitCode} on SIGTERM (see ${path.relative(ROOT, t.server.logPath)})`,
      );
  }
  return r;
}

// ---------------------------------------------------------------- report

const mib = (b) => (b / 1048576).toFixed(1);
const kib = (b) => (b / 1024).toFixed(2);
const ms = (x) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");

function table(results, clusterNote, extra = "") {
  const cols = results.filter(Boolean);
  const by = (name) => cols.find((c) => c.name === name);
  const raw = by("raw ws");
  const gw = by("gateway");
  const order = ["gateway", "gateway (cluster)", "raw ws"].filter((n) => by(n));
  const cell = (name, f) => {
    const c = by(name);
    try {
      return c ? f(c) : "n/a";
    } catch {
      return "n/a";
    }
  };
  const rows = [];
  const row = (metric, f, goal = "") =>
    rows.push([metric, ...order.map((n) => cell(n, f)), goal]);
  row("links connected (of requested)", (c) => `${c.open.ok} / ${CFG.links}`);
  row("connect rate (links/s)", (c) => String(Math.round(c.connectRate)));
  row("RSS before links (MiB)", (c) => mib(c.memBefore.rss));
  row(`RSS with ${CFG.links} links (MiB)`, (c) => mib(c.memWith.rss));
  row(
    "of which V8 young generation, before / with (MiB)",
    (c) => `${mib(c.memBefore.young)} / ${mib(c.memWith.young)}`,
  );
  const goalRss = raw
    ? `≤ 1.5× raw ws (≤ ${kib(1.5 * raw.rssPerLink)} KiB)`
    : "≤ 1.5× raw ws";
  row("**RSS per link (KiB)**", (c) => `**${kib(c.rssPerLink)}**`, goalRss);
  row(
    "RSS per link ÷ raw ws",
    (c) => (raw ? `${(c.rssPerLink / raw.rssPerLink).toFixed(2)}×` : "n/a"),
    "≤ 1.5×",
  );
  row(
    `marginal RSS per link, ${Math.floor(CFG.links / 2)}→${CFG.links} (KiB)`,
    (c) => kib(c.rssPerLinkMarginal),
  );
  row("plain RSS delta per link, young gen included (KiB)", (c) =>
    kib(c.rssPerLinkRaw),
  );
  row("JS heap per link (KiB)", (c) => kib(c.heapPerLink));
  row(
    "JS heap still held after all pushes, per push (bytes)",
    (c) =>
      `${Math.round(c.retainedPerPush)} (${c.pushed} pushes, ${mib(c.memWith.heapUsed)} → ${mib(c.memAfterPush.heapUsed)} MiB)`,
    "~0 (no leak)",
  );
  for (const rate of CFG.rates) {
    const pr = (c) => {
      const p = c.push.find((x) => x.rate === rate);
      if (!p) throw new Error("not run");
      return p;
    };
    const goal = rate === 5000 ? "p99 < 20 ms" : "";
    row(`push ${rate}/s: delivered/s`, (c) =>
      String(Math.round(pr(c).deliveredPerSec)),
    );
    row(
      `push ${rate}/s: latency p50 / p99 (ms)`,
      (c) =>
        `${ms(pr(c).p50)} / ${rate === 5000 ? `**${ms(pr(c).p99)}**` : ms(pr(c).p99)}`,
      goal,
    );
    row(
      `push ${rate}/s: latency p99.9 / max (ms)`,
      (c) => `${ms(pr(c).p999)} / ${ms(pr(c).max)}`,
    );
    row(
      `push ${rate}/s: server CPU (1 core = 100%)`,
      (c) => `${Math.round(pr(c).serverCpu * 100)}%`,
    );
    row(
      `push ${rate}/s: POST round trip p50 / p99 (ms)`,
      (c) => `${ms(pr(c).postP50)} / ${ms(pr(c).postP99)}`,
    );
    row(
      `push ${rate}/s: CPU used outside the bench (noise)`,
      (c) => `${Math.round(pr(c).othersCpu * 100)}%`,
    );
    row(
      `push ${rate}/s: server event-loop delay p99 / max (ms)`,
      (c) => `${ms(pr(c).loopP99)} / ${ms(pr(c).loopMax)}`,
    );
    row(`push ${rate}/s: duplicate frames`, (c) => String(pr(c).dups), "0");
  }
  const head = ["metric", ...order, "goal"];
  const lines = [
    `| ${head.join(" | ")} |`,
    `|${head.map((h, i) => (i === 0 ? "---" : i === head.length - 1 ? "---" : "---:")).join("|")}|`,
  ];
  for (const r of rows) lines.push(`| ${r.join(" | ")} |`);

  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: ROOT,
    })
      .toString()
      .trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], {
      cwd: ROOT,
    })
      .toString()
      .trim();
    if (dirty) commit += " + uncommitted src changes";
  } catch {
    /* not a git checkout */
  }
  const out = [
    `## ws-gateway bench, ${new Date().toISOString()}`,
    "",
    ...(cols.length
      ? []
      : [
          `commit ${commit}; node ${process.version}, ${os.cpus().length} CPU, load average ${LOAD_AT_START} at start, ${os
            .loadavg()
            .map((x) => x.toFixed(2))
            .join(" ")} at end.`,
          "",
          extra,
        ]),
  ];
  if (!cols.length) return out.join("\n");
  out.push(
    `commit ${commit}; node ${process.version}, ${os.cpus().length} CPU (${os.cpus()[0]?.model?.trim() ?? "?"}), ${mib(os.totalmem())} MiB; load average ${LOAD_AT_START} at start, ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(
        " ",
      )} at end. Everything on loopback on one machine: load generators (and anything else running) share the CPUs with the server, so latency tails vary from run to run.`,
    `${CFG.links} idle links from ${CFG.loadgens} load-generator processes (${CFG.perAddr} per 127.x.y.z source address); gateway links authenticate with an HS256 JWT, one user per link.`,
    `Memory: RSS of the server process after two forced full GCs (median of 3) less V8's young generation (its size follows the allocation rate, not the link count: an idle raw server has 4 MiB of it and grows it to ~27 MiB while accepting links, the gateway has it grown before the first link), minus the same reading before the links, over the links; "marginal" is the same between ${Math.floor(CFG.links / 2)} and ${CFG.links} links.`,
    `Push: unicast to random connected users, ${CFG.phaseMs / 1000} s per rate, one POST per ${CFG.tickMs} ms tick (gateway: POST /api/push with an envelope array, default envelope options; raw ws: POST /push); latency from a CLOCK_MONOTONIC timestamp in the body to the client's parse of the frame, first receipt of each mid. "CPU used outside the bench" is what other processes of the machine took meanwhile (noise).`,
    "",
    ...lines,
    "",
  );
  const notes = [];
  for (const c of cols)
    for (const n of c.notes) notes.push(`- ${c.name}: ${n}`);
  if (clusterNote) notes.push(`- gateway (cluster): ${clusterNote}`);
  if (gw && gw.memAfterClose)
    notes.push(
      `- gateway RSS after all links closed (no forced GC): ${mib(gw.memAfterClose.rss)} MiB`,
    );
  if (notes.length) out.push("Notes:", ...notes, "");
  if (extra) out.push(extra);
  return out.join("\n");
}

// ---------------------------------------------------------------- main

async function clusterDepsUp() {
  const deps = [
    ["redis", 6379],
    ["etcd", 2379],
    ["kafka", 9092],
  ];
  const down = [];
  for (const [name, port] of deps)
    if (!(await portOpen(port))) down.push(`${name} (127.0.0.1:${port})`);
  return down;
}

async function main() {
  if (!fs.existsSync(GATEWAY_ENTRY))
    throw new Error(
      `${path.relative(ROOT, GATEWAY_ENTRY)} not found: run \`npm run build\` first`,
    );
  fs.mkdirSync(RESULTS, { recursive: true });
  const started = Date.now();
  const auth = { Authorization: `Bearer ${CFG.adminToken}` };
  const gatewayTarget = (name, logName, mode, gwPort, govPort, addrBase) => {
    const nodeId = `bench-${mode}-${process.pid}`;
    return {
      name,
      logName,
      kind: "gateway",
      entry: GATEWAY_ENTRY,
      env: gatewayEnv(mode, gwPort, govPort, nodeId),
      ports: [gwPort, govPort],
      govPort,
      readyUrl: `http://127.0.0.1:${govPort}/health/live`,
      check: (r) => {
        if (r.json?.node !== nodeId)
          throw new Error(
            `port ${govPort} is answered by node ${r.json?.node}, not the one the bench started`,
          );
      },
      wsUrl: `ws://127.0.0.1:${gwPort}/ws`,
      pushUrl: `http://127.0.0.1:${govPort}/api/push`,
      pushHeaders: auth,
      envelope: (user, body) => ({
        bizId: CFG.biz,
        to: { users: [user] },
        body,
      }),
      addrBase,
    };
  };
  const rawTarget = {
    name: "raw ws",
    logName: "raw-ws",
    kind: "raw",
    entry: RAW_ENTRY,
    env: { ...process.env, RAW_PORT: String(CFG.rawPort) },
    ports: [CFG.rawPort],
    readyUrl: `http://127.0.0.1:${CFG.rawPort}/health`,
    wsUrl: `ws://127.0.0.1:${CFG.rawPort}/ws`,
    pushUrl: `http://127.0.0.1:${CFG.rawPort}/push`,
    pushHeaders: {},
    envelope: (user, body) => ({ user, body }),
    addrBase: 11,
  };

  const results = [];
  if (CFG.only.has("raw")) results.push(await runTarget(rawTarget));
  if (CFG.only.has("gateway"))
    results.push(
      await runTarget(
        gatewayTarget(
          "gateway",
          "gateway-embedded",
          "embedded",
          CFG.gwPort,
          CFG.govPort,
          12,
        ),
      ),
    );

  let clusterNote;
  if (CFG.cluster === "0" || CFG.cluster === "off" || !CFG.only.has("cluster"))
    clusterNote = undefined;
  else {
    const down = await clusterDepsUp();
    if (down.length) {
      clusterNote = `not run: ${down.join(", ")} not answering (start them with \`bash scripts/deps.sh start\`)`;
      if (CFG.cluster === "1")
        throw new Error(`BENCH_CLUSTER=1 but ${clusterNote}`);
    } else {
      try {
        results.push(
          await runTarget(
            gatewayTarget(
              "gateway (cluster)",
              "gateway-cluster",
              "cluster",
              CFG.clusterGwPort,
              CFG.clusterGovPort,
              14,
            ),
          ),
        );
      } catch (err) {
        if (CFG.cluster === "1") throw err;
        clusterNote = `failed: ${err.message.split("\n").slice(0, 6).join(" / ")}`;
        log(`cluster run failed: ${err.message}`);
      }
      // what the node stored (mailboxes, dedup keys, sessions) is of no use after the run
      const n = await kafkaBench
        .cleanRedis(CLUSTER_ISOLATION.GATEWAY_REDIS_KEY_PREFIX)
        .catch(() => 0);
      if (n) log(`gateway (cluster): removed ${n} Redis keys of the run`);
    }
  }

  let extra = "";
  const wantKafka = CFG.only.has("kafka");
  const wantFanout = CFG.only.has("fanout");
  if (wantKafka || wantFanout) {
    const down = await clusterDepsUp();
    if (down.length)
      extra = `### Kafka push and room fan-out\n\nnot run: ${down.join(", ")} not answering (start them with \`bash scripts/deps.sh start\`)\n`;
    else {
      const h = {
        CFG,
        GATEWAY_ENTRY,
        RAW_ENTRY,
        log,
        sleep,
        track,
        waitMessage,
        httpJson,
        startServer,
        stopChild,
        gatewayEnv,
        startLoadgens,
        closeLoadgens,
        openLinks,
        loopDelay,
        cpuTicks,
        machineTicks,
        benchTicks,
        CLK_TCK,
        pct,
      };
      let gw;
      let raw;
      try {
        gw = await kafkaBench.runKafkaGateway(h, {
          unicast: wantKafka,
          fanout: wantFanout,
        });
      } catch (err) {
        log(`kafka scenarios failed: ${err.stack || err.message}`);
        extra = `### Kafka push and room fan-out\n\nfailed: ${err.message.split("\n").slice(0, 6).join(" / ")}\n`;
      }
      if (gw && wantFanout) {
        try {
          raw = await kafkaBench.runRawFanout(
            h,
            gw.join ? gw.join.ok : kafkaBench.KCFG.links,
          );
        } catch (err) {
          log(`raw fan-out failed: ${err.stack || err.message}`);
          gw.notes.push(`raw ws fan-out failed: ${err.message.split("\n")[0]}`);
        }
      }
      if (gw) extra = kafkaBench.kafkaTable(h, gw, raw);
    }
  }

  const md =
    table(results, clusterNote, extra) +
    `\n_bench took ${Math.round((Date.now() - started) / 1000)} s_\n`;
  fs.writeFileSync(path.join(RESULTS, "latest.md"), md);
  process.stdout.write(`\n${md}`);
  log(
    `written to ${path.relative(process.cwd(), path.join(RESULTS, "latest.md"))}`,
  );
}

main().then(
  () => {
    killAll();
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`bench: ${err.message}\n`);
    killAll();
    process.exit(1);
  },
);
