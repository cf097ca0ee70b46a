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
 * BENCH_ONLY (raw,gateway,cluster,uplink,uplink-backend,kafka,fanout,move,balancer: the targets to run) BENCH_GATEWAY_NODE_ARGS
 * (extra node flags for the gateway, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
 *
 * Uplink scenario (bench/uplink-bench.js, a table of its own; BENCH_ONLY value `uplink`):
 *   clients send `req {id, body}` frames, the gateway (embedded mode, its built-in echo backend)
 *   answers `ack {id, code, body}`; the same against the raw ws server answering each req with
 *   an ack of the same shape (RAW_UPLINK=1). Per server: acks/s and send -> ack latency at each
 *   fixed offered rate (open loop), then the max sustained rate (closed loop: each link keeps a
 *   window of reqs outstanding); gateway ÷ raw ratios.
 *   knobs: BENCH_UPLINK_LINKS (1000) BENCH_UPLINK_RATES (2000,5000) BENCH_UPLINK_PHASE_MS
 *   (10000) BENCH_UPLINK_WINDOW (reqs outstanding per link, 4) BENCH_UPLINK_MAX_MS (10000)
 *   BENCH_UPLINK_GW_PORT (9232) BENCH_UPLINK_GOV_PORT (9233) BENCH_UPLINK_RAW_PORT (9122)
 *
 * Uplink through a backend (the same file, a table of its own; BENCH_ONLY value `uplink-backend`):
 *   the same phases with {"echo": ...} bodies answered by one example gRPC backend
 *   (dist/examples/backend/backend.js --no-etcd): bench/raw-grpc-forwarder.js (ws -> one grpc-js
 *   channel -> ack, the ceiling) against the gateway (embedded, GATEWAY_BACKEND_STATIC=bench=<addr>;
 *   "gateway client side not built yet" when its acks do not come from the backend); gateway ÷
 *   ceiling ratios, goals: max rate >= 0.7x the ceiling's, p99 at 2,000/s <= 2x the ceiling's.
 *   knobs: the BENCH_UPLINK_* above, BENCH_UPLINK_FWD_PORT (9124) BENCH_UPLINK_BACKEND_GW_PORT
 *   (9242) BENCH_UPLINK_BACKEND_GOV_PORT (9243) BENCH_UPLINK_BACKEND_WINDOW (reqs outstanding per
 *   link in the closed loop, 1)
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
 *
 * Move scenario (bench/move-bench.js, a table of its own; BENCH_ONLY value `move`; needs Redis,
 *   etcd and Kafka): three cluster nodes, BENCH_MOVE_LINKS links on one, a `shed` directive to 0
 *   written to its etcd key while a push stream runs: time to move, reconnects/s the peers see,
 *   pushes lost and duplicated (must be 0), push p99 during the move vs before.
 *   knobs: BENCH_MOVE_LINKS (10000) BENCH_MOVE_RATE (250) BENCH_MOVE_PUSH_RATE (1000)
 *   BENCH_MOVE_BEFORE_MS (5000) BENCH_MOVE_PORT (9252)
 *
 * Balancer scenario (bench/balancer-bench.js, a table of its own; BENCH_ONLY value `balancer`; needs
 *   Redis, etcd and Kafka): one cluster-mode node and one balancer (GATEWAY_ROLE=balancer) in front
 *   of it, started once. (a) BENCH_BALANCER_LINKS links straight to the node, (b) after those are
 *   closed and the node holds none, as many through the balancer; each half: connect rate, unicast
 *   pushes through the node's POST /api/push at each BENCH_BALANCER_RATES rate, then the max
 *   sustained rate (closed loop: at most BENCH_BALANCER_WINDOW pushes accepted and not yet
 *   received). Per phase: delivered/s, p50/p99/p99.9, balancer CPU, node CPU, noise; through ÷
 *   direct, goals: delivered/s at the max sustained rate >= 0.8x direct, p50 at the fixed rates
 *   <= 1 ms added. The node trusts X-Forwarded-For from 127.0.0.1 (the balancer).
 *   knobs: BENCH_BALANCER_LINKS (5000: the balancer holds two sockets per link, a process may
 *   have 20,000 files open) BENCH_BALANCER_RATES (1000,5000) BENCH_BALANCER_PHASE_MS (10000)
 *   BENCH_BALANCER_MAX_MS (10000) BENCH_BALANCER_WINDOW (2000) BENCH_BALANCER_PORT (9262)
 *   BENCH_BALANCER_NODE_PORT (9266: the node's /ws, +1 its governance port)
 *
 * The shared helpers are in bench/lib/ (config, child processes, HTTP, /metrics, memory
 * probes, load generators, push phases, CPU accounting, report formatting).
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { CFG, ROOT, GATEWAY_ENTRY, RESULTS } = require("./lib/config");
const { installCleanup, killAll, exited, stopChild } = require("./lib/procs");
const { httpJson } = require("./lib/http");
const { scrapeMetric } = require("./lib/metrics");
const { memOnce, steadyMem, snapshot } = require("./lib/probe");
const { sleep, log, pollUntil } = require("./lib/util");
const {
  startTarget,
  gatewayTarget,
  rawTarget,
  CLUSTER_ISOLATION,
  clusterDepsUp,
} = require("./lib/servers");
const { startLoadgens, closeLoadgens, openLinks } = require("./lib/loadgens");
const { pushPhase, logPushPhase, notePushPhase } = require("./lib/push");
const report = require("./lib/report");
const { mib, kib, ms } = report;
const kafkaBench = require("./kafka-bench");
const uplinkBench = require("./uplink-bench");
const moveBench = require("./move-bench");
const balancerBench = require("./balancer-bench");

installCleanup(CFG.deadlineMs);

// ---------------------------------------------------------------- one target end to end

async function countLinks(t) {
  if (exited(t.server))
    throw new Error(
      `${t.name} exited (${t.server.exitCode ?? t.server.signalCode}); last output:\n${t.server.tail.join("\n")}`,
    );
  if (t.kind === "raw")
    return (await httpJson("GET", `http://127.0.0.1:${t.rawPort}/health`)).json
      .links;
  return scrapeMetric(t.govPort, "websocket_gateway_connections");
}

const waitLinks = (t, want, timeoutMs) =>
  pollUntil(() => countLinks(t), want, timeoutMs, 100);

/** Memory once the server holds `links` links (waits up to 5 s for it) and a 1 s settle. */
async function steadyMemAt(t, links) {
  const n = await waitLinks(t, links, 5000);
  await sleep(1000);
  return { ...(await steadyMem(t.server)), links: n };
}

/** Pays for lazy init / JIT before the baseline, then gives everything back. */
async function warmUp(t, r) {
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
  await pushPhase(t, warm, w.okUsers, 500, 400);
  await closeLoadgens(warm);
  const left = await waitLinks(t, 0, 10000);
  if (left !== 0) r.notes.push(`${left} warm-up links still open at baseline`);
}

/**
 * Two equal steps, memory read after each: the second step gives the marginal cost of a
 * link once the heap and the allocator have grown, the total gives the cost from idle.
 */
async function openInTwoSteps(t, r, lgs) {
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
  return { o, o1, o2 };
}

/** Memory with every link open, and the per-link figures from it. */
async function perLinkMemory(t, r, { o, o1, o2 }) {
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
}

/** Each BENCH_RATES rate in turn, until one is not sustained. */
async function pushSeries(t, r, lgs, users) {
  r.push = [];
  for (const rate of CFG.rates) {
    const p = await pushPhase(t, lgs, users, rate, CFG.phaseMs);
    r.push.push(p);
    logPushPhase(t, rate, p);
    notePushPhase(r, rate, p);
    // a rate the server could not carry: higher ones would only measure the queue
    if (p.deliveredPerSec < rate * 0.8 || p.skipped > rate) {
      r.notes.push(`stopped after ${rate}/s (not sustained)`);
      break;
    }
  }
}

/** Pushes must not leave memory behind: the same forced-GC reading after them. */
async function memoryAfterPushes(t, r, links) {
  r.memAfterPush = await steadyMemAt(t, links);
  const pushed = r.push.reduce((a, p) => a + p.sent, 0);
  r.pushed = pushed;
  r.retainedPerPush = pushed
    ? (r.memAfterPush.heapUsed - r.memWith.heapUsed) / pushed
    : NaN;
  log(
    `${t.name}: after pushes rss ${mib(r.memAfterPush.rss)} MiB, heap ${mib(r.memAfterPush.heapUsed)} MiB (before pushes ${mib(r.memWith.heapUsed)} MiB)`,
  );
}

async function stopTarget(t, r, lgs) {
  await closeLoadgens(lgs);
  if (t.server && !exited(t.server))
    r.memAfterClose = await memOnce(t.server, false).catch(() => undefined);
  await stopChild(t.server, "SIGTERM", 15000);
  if (t.server.exitCode && t.server.exitCode !== 0)
    r.notes.push(
      `server exited with ${t.server.exitCode} on SIGTERM (see ${path.relative(ROOT, t.server.logPath)})`,
    );
}

async function runTarget(t) {
  const r = { name: t.name, notes: [] };
  log(`${t.name}: starting`);
  await startTarget(t);
  let lgs = [];
  try {
    await warmUp(t, r);
    lgs = await startLoadgens(CFG.loadgens);
    await sleep(500);
    r.memBefore = await steadyMem(t.server);
    await snapshot(t, "0-links");
    log(
      `${t.name}: baseline rss ${mib(r.memBefore.rss)} MiB; opening ${CFG.links} links`,
    );
    const opened = await openInTwoSteps(t, r, lgs);
    await perLinkMemory(t, r, opened);
    await pushSeries(t, r, lgs, opened.o.okUsers);
    await memoryAfterPushes(t, r, opened.o.ok);
  } finally {
    await stopTarget(t, r, lgs);
  }
  return r;
}

// ---------------------------------------------------------------- report

function memoryRows(row, raw) {
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
}

function pushRows(row, rate) {
  const pr = (c) => {
    const p = c.push.find((x) => x.rate === rate);
    if (!p) throw new Error("not run");
    return p;
  };
  const goal = rate === 5000 ? "p99 < 20 ms" : "";
  const at = `push ${rate}/s:`;
  row(`${at} delivered/s`, (c) => String(Math.round(pr(c).deliveredPerSec)));
  row(
    `${at} latency p50 / p99 (ms)`,
    (c) =>
      `${ms(pr(c).p50)} / ${rate === 5000 ? `**${ms(pr(c).p99)}**` : ms(pr(c).p99)}`,
    goal,
  );
  row(
    `${at} latency p99.9 / max (ms)`,
    (c) => `${ms(pr(c).p999)} / ${ms(pr(c).max)}`,
  );
  row(
    `${at} server CPU (1 core = 100%)`,
    (c) => `${Math.round(pr(c).serverCpu * 100)}%`,
  );
  row(
    `${at} POST round trip p50 / p99 (ms)`,
    (c) => `${ms(pr(c).postP50)} / ${ms(pr(c).postP99)}`,
  );
  row(
    `${at} CPU used outside the bench (noise)`,
    (c) => `${Math.round(pr(c).othersCpu * 100)}%`,
  );
  row(
    `${at} server event-loop delay p99 / max (ms)`,
    (c) => `${ms(pr(c).loopP99)} / ${ms(pr(c).loopMax)}`,
  );
  row(`${at} duplicate frames`, (c) => String(pr(c).dups), "0");
}

/** The rows of the push table: one column per server that ran, "n/a" where a cell fails. */
function pushTableLines(cols) {
  const by = (name) => cols.find((c) => c.name === name);
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
  memoryRows(row, by("raw ws"));
  for (const rate of CFG.rates) pushRows(row, rate);
  return report.mdTable(["metric", ...order, "goal"], rows);
}

/** What was measured how, above the push table. */
function pushContext(commit) {
  const half = Math.floor(CFG.links / 2);
  return [
    `commit ${commit}; node ${process.version}, ${os.cpus().length} CPU (${os.cpus()[0]?.model?.trim() ?? "?"}), ${mib(os.totalmem())} MiB; load average ${report.LOAD_AT_START} at start, ${report.loadAvg()} at end. Everything on loopback on one machine: load generators (and anything else running) share the CPUs with the server, so latency tails vary from run to run.`,
    `${CFG.links} idle links from ${CFG.loadgens} load-generator processes (${CFG.perAddr} per 127.x.y.z source address); gateway links authenticate with an HS256 JWT, one user per link.`,
    `Memory: RSS of the server process after two forced full GCs (median of 3) less V8's young generation (its size follows the allocation rate, not the link count: an idle raw server has 4 MiB of it and grows it to ~27 MiB while accepting links, the gateway has it grown before the first link), minus the same reading before the links, over the links; "marginal" is the same between ${half} and ${CFG.links} links.`,
    `Push: unicast to random connected users, ${CFG.phaseMs / 1000} s per rate, one POST per ${CFG.tickMs} ms tick (gateway: POST /api/push with an envelope array, default envelope options; raw ws: POST /push); latency from a CLOCK_MONOTONIC timestamp in the body to the client's parse of the frame, first receipt of each mid. "CPU used outside the bench" is what other processes of the machine took meanwhile (noise).`,
  ];
}

function table(results, clusterNote, extra = "") {
  const cols = results.filter(Boolean);
  const commit = report.commitInfo(ROOT);
  const out = [`## ws-gateway bench, ${new Date().toISOString()}`, ""];
  if (!cols.length) {
    out.push(
      `commit ${commit}; node ${process.version}, ${os.cpus().length} CPU, load average ${report.LOAD_AT_START} at start, ${report.loadAvg()} at end.`,
      "",
      extra,
    );
    return out.join("\n");
  }
  out.push(...pushContext(commit), "", ...pushTableLines(cols), "");
  const gw = cols.find((c) => c.name === "gateway");
  const more = [];
  if (clusterNote) more.push(`- gateway (cluster): ${clusterNote}`);
  if (gw && gw.memAfterClose)
    more.push(
      `- gateway RSS after all links closed (no forced GC): ${mib(gw.memAfterClose.rss)} MiB`,
    );
  out.push(...report.notesBlock(cols, more));
  if (extra) out.push(extra);
  return out.join("\n");
}

// ---------------------------------------------------------------- main

async function runCluster(results) {
  if (CFG.cluster === "0" || CFG.cluster === "off" || !CFG.only.has("cluster"))
    return undefined;
  const down = await clusterDepsUp();
  if (down.length) {
    const note = `not run: ${down.join(", ")} not answering (start them with \`bash scripts/deps.sh start\`)`;
    if (CFG.cluster === "1") throw new Error(`BENCH_CLUSTER=1 but ${note}`);
    return note;
  }
  let note;
  try {
    const t = gatewayTarget(
      "gateway (cluster)",
      "gateway-cluster",
      "cluster",
      CFG.clusterGwPort,
      CFG.clusterGovPort,
      14,
    );
    results.push(await runTarget(t));
  } catch (err) {
    if (CFG.cluster === "1") throw err;
    note = `failed: ${err.message.split("\n").slice(0, 6).join(" / ")}`;
    log(`cluster run failed: ${err.message}`);
  }
  // what the node stored (mailboxes, dedup keys, sessions) is of no use after the run
  const n = await kafkaBench
    .cleanRedis(CLUSTER_ISOLATION.GATEWAY_REDIS_KEY_PREFIX)
    .catch(() => 0);
  if (n) log(`gateway (cluster): removed ${n} Redis keys of the run`);
  return note;
}

/** raw, gateway (embedded), gateway (cluster): the push table's columns */
async function runPushTargets() {
  const results = [];
  if (CFG.only.has("raw"))
    results.push(
      await runTarget(rawTarget("raw ws", "raw-ws", CFG.rawPort, 11)),
    );
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
  const clusterNote = await runCluster(results);
  return { results, clusterNote };
}

async function main() {
  if (!fs.existsSync(GATEWAY_ENTRY))
    throw new Error(
      `${path.relative(ROOT, GATEWAY_ENTRY)} not found: run \`npm run build\` first`,
    );
  fs.mkdirSync(RESULTS, { recursive: true });
  const started = Date.now();
  const { results, clusterNote } = await runPushTargets();
  const extras = [];
  if (CFG.only.has("uplink")) extras.push(await uplinkBench.runUplink());
  if (CFG.only.has("uplink-backend"))
    extras.push(await uplinkBench.runUplinkBackend());
  const wantKafka = CFG.only.has("kafka");
  const wantFanout = CFG.only.has("fanout");
  if (wantKafka || wantFanout)
    extras.push(await kafkaBench.runKafka(wantKafka, wantFanout));
  if (CFG.only.has("move")) {
    const down = await clusterDepsUp();
    extras.push(
      down.length
        ? `\n### move\n\nnot run: ${down.join(", ")} not answering\n`
        : await moveBench.runMove(),
    );
  }
  if (CFG.only.has("balancer")) {
    const down = await clusterDepsUp();
    extras.push(
      down.length
        ? `\n### balancer\n\nnot run: ${down.join(", ")} not answering\n`
        : await balancerBench.runBalancer(),
    );
  }
  const md =
    table(results, clusterNote, extras.join("\n")) +
    `\n_bench took ${Math.round((Date.now() - started) / 1000)} s_\n`;
  const file = report.writeResults(RESULTS, md);
  process.stdout.write(`\n${md}`);
  log(`written to ${path.relative(process.cwd(), file)}`);
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
