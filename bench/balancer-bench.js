"use strict";
/**
 * The `balancer` scenario of `make bench` (BENCH_ONLY value `balancer`; needs Redis, etcd and
 * Kafka): what the balancer role (GATEWAY_ROLE=balancer) costs a link's pushes. One cluster-mode
 * gateway node and one balancer in front of it (same JWT secret, admin token, etcd endpoints and
 * prefix; it finds the node in etcd and probes its /health/ready every second), both started
 * once, so both halves measure the same node:
 *   (a) direct   BENCH_BALANCER_LINKS links opened on the node's /ws
 *   (b) through  as many links opened on the balancer's /ws (proxied byte-for-byte to the node)
 * Between (a) and (b) the load generators close their links and exit, and the bench waits until
 * the node holds none. Each half, after its own warm-up (200 links, a few pushes, closed):
 *   - connect rate (links / wall time to the last `connected` frame)
 *   - unicast pushes through the node's POST /api/push (bench/lib/push.js, as the main push
 *     bench) at each BENCH_BALANCER_RATES rate for BENCH_BALANCER_PHASE_MS: delivered/s,
 *     latency p50/p99/p99.9 (push body timestamp -> client's parse), node CPU, balancer CPU
 *     (its own process), noise (CPU of processes outside the bench); higher rates are skipped
 *     once one is not sustained
 *   - the max sustained rate: closed loop, at most BENCH_BALANCER_WINDOW pushes accepted by the
 *     API and not yet received by a client, topped up as receipts come in, for
 *     BENCH_BALANCER_MAX_MS; receipts per second after the first second (the queue filling)
 * The table quotes through ÷ direct: delivered/s (goal at the max sustained rate: ≥ 0.8×) and the
 * added p50 in ms (goal at the fixed rates: ≤ 1 ms).
 * The node runs with GATEWAY_UPGRADER_TRUSTED_PROXIES=127.0.0.1 (the balancer connects from
 * 127.0.0.1 and sends X-Forwarded-For, so the node's per-IP limit sees the client's own 127.x
 * address) and without a Kafka consumer (pushes come through the API only).
 *   knobs: BENCH_BALANCER_LINKS (5000: the balancer holds two sockets per link, and one process
 *   may have 20,000 files open) BENCH_BALANCER_RATES (1000,5000) BENCH_BALANCER_PHASE_MS (10000)
 *   BENCH_BALANCER_MAX_MS (10000) BENCH_BALANCER_WINDOW (2000) BENCH_BALANCER_PORT (9262: the
 *   balancer) BENCH_BALANCER_NODE_PORT (9266: the node's /ws, +1 its governance port)
 */
const http = require("node:http");
const { Etcd3 } = require("etcd3");
const { CFG, GATEWAY_ENTRY } = require("./lib/config");
const { stopChild, askAll, exited } = require("./lib/procs");
const { httpJson } = require("./lib/http");
const { scrapeMetric } = require("./lib/metrics");
const { loopDelay, memOnce } = require("./lib/probe");
const {
  int,
  list,
  nowUs,
  sleep,
  log,
  drain,
  pollUntil,
} = require("./lib/util");
const { startServer, gatewayEnv, checkNode } = require("./lib/servers");
const {
  startLoadgens,
  closeLoadgens,
  openAll,
  loadgenCount,
} = require("./lib/loadgens");
const {
  pushPoster,
  pushCpu,
  pushPhase,
  pushResult,
  logPushPhase,
  notePushPhase,
  nextPhase,
} = require("./lib/push");
const report = require("./lib/report");
const { ms, k, pctStr, mib } = report;

const env = process.env;

const B = {
  links: int(env.BENCH_BALANCER_LINKS, 5000),
  rates: list(env.BENCH_BALANCER_RATES, "1000,5000"),
  phaseMs: int(env.BENCH_BALANCER_PHASE_MS, 10000),
  maxMs: int(env.BENCH_BALANCER_MAX_MS, 10000),
  /** the closed loop's first second is not counted (the window filling, all links at once) */
  maxWarmMs: 1000,
  window: Math.max(1, int(env.BENCH_BALANCER_WINDOW, 2000)),
  port: int(env.BENCH_BALANCER_PORT, 9262),
  nodePort: int(env.BENCH_BALANCER_NODE_PORT, 9266),
  checkIntervalMs: 1000,
  /** source addresses 127.<base>.x.y: one base per half, so (b) reuses none of (a)'s */
  directAddrBase: 21,
  throughAddrBase: 22,
};

const DIRECT = "direct to the node";
const THROUGH = "through the balancer";

const ISOLATION = {
  GATEWAY_REDIS_KEY_PREFIX: `gwbench-balancer-${process.pid}:`,
  GATEWAY_ETCD_PREFIX: `/gateway-bench-balancer-${process.pid}/nodes/`,
  GATEWAY_PUSH_TOPIC: "bench.gateway.push",
  GATEWAY_PUSH_DLQ_TOPIC: "bench.gateway.push.dlq",
  GATEWAY_PUSH_EVENTS_TOPIC: "bench.gateway.events",
  GATEWAY_PUSH_GROUP_ID: `ws-gateway-bench-balancer-${process.pid}`,
};

// ---------------------------------------------------------------- the two servers

async function startNode() {
  const gw = B.nodePort;
  const gov = gw + 1;
  const nodeId = `bench-balancer-node-${process.pid}`;
  const nodeEnv = {
    ...gatewayEnv("cluster", gw, gov, nodeId, ISOLATION),
    // the balancer's X-Forwarded-For is believed: the per-IP limit counts the client's 127.x
    GATEWAY_UPGRADER_TRUSTED_PROXIES: "127.0.0.1",
    // pushes come through the admin API: no Kafka consumer competing for the two cores
    GATEWAY_PUSH_CONSUME: "false",
  };
  const child = await startServer(
    "gateway-balancer-node",
    GATEWAY_ENTRY,
    nodeEnv,
    [gw, gov],
    `http://127.0.0.1:${gov}/health/live`,
    checkNode(nodeId, gov),
  );
  return {
    name: "node",
    nodeId,
    server: child,
    govPort: gov,
    wsUrl: `ws://127.0.0.1:${gw}/ws`,
    pushUrl: `http://127.0.0.1:${gov}/api/push`,
    pushHeaders: { Authorization: `Bearer ${CFG.adminToken}` },
    envelope: (user, body) => ({ bizId: CFG.biz, to: { users: [user] }, body }),
  };
}

/** The balancer: same secrets and etcd prefix as the node; ready once /health is 200 (a node healthy behind it). */
async function startBalancer(node) {
  const id = `bench-balancer-${process.pid}`;
  const balEnv = {
    // gatewayEnv's node ports are not the balancer's: it listens on balancer.port only
    ...gatewayEnv("cluster", B.nodePort + 10, B.nodePort + 11, id, ISOLATION),
    GATEWAY_ROLE: "balancer",
    GATEWAY_BALANCER_PORT: String(B.port),
    GATEWAY_BALANCER_CHECK_INTERVAL_MS: String(B.checkIntervalMs),
    // it applies the per-IP upgrade limit itself (gatewayEnv sets a high one), and logs
    // "balancer ready" at info
    GATEWAY_LOG_LEVEL: "info",
  };
  const child = await startServer(
    "balancer",
    GATEWAY_ENTRY,
    balEnv,
    [B.port],
    `http://127.0.0.1:${B.port}/health/live`,
    (r) => {
      if (r.json?.role !== "balancer" || r.json?.id !== id)
        throw new Error(
          `port ${B.port} is answered by ${JSON.stringify(r.json)}, not the balancer the bench started`,
        );
    },
  );
  const healthUrl = `http://127.0.0.1:${B.port}/health`;
  const status = await pollUntil(
    () =>
      httpJson("GET", healthUrl, { timeoutMs: 1000 }).then(
        (r) => r.status,
        (err) => err.message,
      ),
    200,
    30000,
    200,
  );
  if (status !== 200)
    throw new Error(
      `balancer: ${healthUrl} answered ${status} 30 s after start (node ${node.nodeId} not healthy behind it?); last output:\n${child.tail.join("\n")}`,
    );
  if (!child.tail.some((l) => l.includes('"msg":"balancer ready"')))
    log(`balancer: healthy, but no "balancer ready" line in its output`);
  return {
    id,
    child,
    wsUrl: `ws://127.0.0.1:${B.port}/ws`,
  };
}

async function nodeLinks(node) {
  if (exited(node.server))
    throw new Error(
      `node exited (${node.server.exitCode ?? node.server.signalCode}); last output:\n${node.server.tail.join("\n")}`,
    );
  return scrapeMetric(node.govPort, "websocket_gateway_connections");
}

async function balancerLinks() {
  const r = await httpJson("GET", `http://127.0.0.1:${B.port}/metrics`);
  let n = 0;
  for (const m of r.text.matchAll(
    /^websocket_balancer_links\{[^}]*\} (\S+)$/gm,
  ))
    n += Number(m[1]);
  return n;
}

/**
 * The client address the node recorded for a sample of the links opened since `sinceMs`
 * (epoch ms): through the balancer it must be the client's own 127.x.y.z (X-Forwarded-For
 * believed from 127.0.0.1), not the balancer's 127.0.0.1.
 */
async function sampleAddresses(node, sinceMs) {
  const r = await httpJson(
    "GET",
    `http://127.0.0.1:${node.govPort}/api/clients?biz=${CFG.biz}&limit=100`,
    { headers: node.pushHeaders, timeoutMs: 5000 },
  );
  const items = (r.json?.items || []).filter(
    (s) => s.node === node.nodeId && s.connectedAt >= sinceMs,
  );
  return {
    sampled: items.length,
    own: items.filter((s) => /^127\./.test(s.ip) && s.ip !== "127.0.0.1")
      .length,
    example: items[0]?.ip,
  };
}

// ---------------------------------------------------------------- the max sustained rate

/** µs-stamped samples of the phase, sent within [fromUs, toUs]: sorted latencies (ms) */
async function windowLatencies(lgs, phase, fromUs, toUs) {
  const rs = await askAll(
    lgs,
    { cmd: "stats", phase, withSent: true },
    "stats",
    30000,
    "stats",
  );
  const lat = [];
  for (const r of rs)
    for (let i = 0; i < r.lat.length; i++)
      if (r.sent[i] >= fromUs && r.sent[i] <= toUs) lat.push(r.lat[i]);
  return {
    lat: Float64Array.from(lat).sort(),
    count: rs.reduce((a, r) => a + r.count, 0),
    dups: rs.reduce((a, r) => a + r.dups, 0),
    lost: rs.reduce((a, r) => a + r.lost, 0),
    lostCodes: [...new Set(rs.flatMap((r) => r.lostCodes))],
  };
}

/**
 * Closed loop: keeps at most B.window pushes accepted-or-in-flight and not yet received,
 * topping up (POSTs of 250 to 1000) each time the load generators' receipt count is read,
 * for B.maxMs. Counted from B.maxWarmMs on: receipts/s, latency of the pushes sent in that
 * span, CPU.
 */
async function maxPhase(node, lgs, users, pids) {
  const phase = nextPhase();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const st = {
    phase,
    rate: "max",
    sent: 0,
    skipped: 0,
    posts: 0,
    httpErrors: 0,
    errorSample: undefined,
    notRouted: 0,
    inflight: 0,
  };
  const rtts = [];
  const flow = { finished: false };
  const allAnswered = new Promise((r) => (flow.idle = r));
  const post = pushPoster(node, users, st, { agent, rtts, flow });
  await loopDelay(node.server); // resets the node's event-loop histogram
  let offered = 0;
  let received = 0;
  let from;
  let cpu;
  let stalledSince;
  const minBatch = Math.max(1, Math.min(250, Math.floor(B.window / 4)));
  const t0 = performance.now();
  for (;;) {
    received = await loadgenCount(lgs, phase);
    const at = performance.now();
    if (!from && at - t0 >= B.maxWarmMs) {
      from = { at, received, us: nowUs() };
      cpu = pushCpu(node, pids);
    }
    if (at - t0 >= B.maxMs) break;
    // what was offered and is neither received nor known lost (refused POSTs, routed=0)
    const outstanding = offered - received - st.notRouted;
    let room = B.window - outstanding;
    if (room <= 0 && st.inflight === 0) {
      // nothing in flight and nothing arriving: pushes lost on the way (noted below)
      stalledSince ??= at;
      if (at - stalledSince > 5000) break;
    } else stalledSince = undefined;
    // batches as large as the main bench's at its top rate: many tiny POSTs would measure
    // the API's per-request cost instead of delivery
    while (room >= minBatch && st.inflight < CFG.maxInflight) {
      const n = Math.min(room, 1000);
      post(n);
      offered += n;
      room -= n;
    }
    await sleep(2);
  }
  const to = { at: performance.now(), received, us: nowUs() };
  const seconds = (to.at - from.at) / 1000;
  const used = cpu(seconds);
  flow.finished = true;
  if (st.inflight > 0) await Promise.race([allAnswered, sleep(20000)]);
  await drain(
    () => loadgenCount(lgs, phase),
    st.sent - st.notRouted,
    2000,
    10000,
  );
  const loop = await loopDelay(node.server);
  agent.destroy();
  const s = await windowLatencies(lgs, phase, from.us, to.us);
  return pushResult(st, {
    offered,
    sendSeconds: seconds,
    s,
    used,
    loop,
    rtts,
    deliveredPerSec: (to.received - from.received) / seconds,
  });
}

// ---------------------------------------------------------------- one half

/** 200 links and a few pushes on `url`, closed again: JIT and buffers paid before measuring. */
async function warmUp(node, url, addrBase, r) {
  const warm = await startLoadgens(1);
  try {
    const w = await openAll(
      r,
      `${r.name} warm-up`,
      warm,
      "gateway",
      url,
      addrBase,
      CFG.warmupLinks,
    );
    await pushPhase(node, warm, w.okUsers, 500, 1000);
  } finally {
    await closeLoadgens(warm);
  }
  r.open = undefined;
  const left = await pollUntil(() => nodeLinks(node), 0, 15000, 100);
  if (left !== 0) r.notes.push(`${left} warm-up links still open on the node`);
}

/** Connect, the fixed rates, the max sustained rate, close: one column of the table. */
async function runHalf(name, node, balancer, url, addrBase) {
  const r = { name, notes: [], push: [] };
  const pids = [balancer.child.pid];
  const label = `balancer bench, ${name}`;
  log(`${label}: warm-up`);
  await warmUp(node, url, addrBase + 100, r);
  const lgs = await startLoadgens(CFG.loadgens);
  try {
    await sleep(500);
    const openedAt = Date.now();
    const o = await openAll(r, label, lgs, "gateway", url, addrBase, B.links);
    r.connectRate = o.ok / o.seconds;
    r.nodeLinks = await pollUntil(() => nodeLinks(node), o.ok, 10000, 100);
    r.balancerLinks = await balancerLinks();
    if (r.nodeLinks !== o.ok)
      r.notes.push(`the node reports ${r.nodeLinks} links, clients ${o.ok}`);
    log(
      `${label}: ${o.ok} links in ${o.seconds.toFixed(2)} s (${Math.round(r.connectRate)}/s); node holds ${r.nodeLinks}, balancer proxies ${r.balancerLinks}`,
    );
    r.addresses = await sampleAddresses(node, openedAt - 1000).catch((err) => ({
      error: err.message,
    }));
    if (r.addresses.error || r.addresses.own < r.addresses.sampled)
      r.notes.push(
        `the node recorded other than the client's own address: ${JSON.stringify(r.addresses)}`,
      );
    await sleep(1000);
    r.balancerMem = await memOnce(balancer.child, false).catch(() => undefined);
    const users = o.okUsers;
    for (const rate of B.rates) {
      const p = await pushPhase(node, lgs, users, rate, B.phaseMs, { pids });
      r.push.push(p);
      logPushPhase({ name: label }, rate, p);
      log(`${label}: ${rate}/s balancer cpu ${pctStr(p.pidsCpu[0])}`);
      notePushPhase(r, rate, p);
      if (p.deliveredPerSec < rate * 0.8 || p.skipped > rate) {
        r.notes.push(`stopped after ${rate}/s (not sustained)`);
        break;
      }
    }
    r.max = await maxPhase(node, lgs, users, pids);
    logPushPhase({ name: `${label} max sustained` }, "max", r.max);
    log(`${label}: max balancer cpu ${pctStr(r.max.pidsCpu[0])}`);
    notePushPhase(r, "max sustained", r.max);
  } finally {
    await closeLoadgens(lgs);
  }
  const left = await pollUntil(() => nodeLinks(node), 0, 20000, 100);
  r.leftOnNode = left;
  if (left !== 0)
    r.notes.push(`${left} links still on the node 20 s after closing`);
  log(`${label}: links closed, node holds ${left}`);
  return r;
}

// ---------------------------------------------------------------- report

const ratio = (a, b) =>
  Number.isFinite(a) && Number.isFinite(b) && b !== 0
    ? `${(a / b).toFixed(2)}×`
    : "n/a";
const added = (a, b) =>
  Number.isFinite(a) && Number.isFinite(b)
    ? `${a - b >= 0 ? "+" : "−"}${ms(Math.abs(a - b))} ms`
    : "n/a";
const verdict = (ok) => (ok ? "met" : "**not met**");

/** the rows of one push phase (`pick` finds it in a column) */
function phaseRows(rows, title, pick, isMax) {
  const d = pick(DIRECT);
  const t = pick(THROUGH);
  const cell = (p, f) => (p ? f(p) : "n/a");
  const both = (f) => [cell(d, f), cell(t, f)];
  const tput = d && t ? t.deliveredPerSec / d.deliveredPerSec : NaN;
  const tputGoal = isMax
    ? `≥ 0.8× direct${Number.isFinite(tput) ? `: ${verdict(tput >= 0.8)}` : ""}`
    : "";
  const addP50 = d && t ? t.p50 - d.p50 : NaN;
  const p50Goal = isMax
    ? ""
    : `≤ 1 ms added at p50${Number.isFinite(addP50) ? `: ${verdict(addP50 <= 1)}` : ""}`;
  rows.push([
    `${title}: delivered/s`,
    ...both((p) =>
      isMax ? `**${k(p.deliveredPerSec)}**` : k(p.deliveredPerSec),
    ),
    ratio(t?.deliveredPerSec, d?.deliveredPerSec),
    tputGoal,
  ]);
  rows.push([
    `${title}: latency p50 / p99 / p99.9 (ms)`,
    ...both(
      (p) =>
        `${isMax ? ms(p.p50) : `**${ms(p.p50)}**`} / ${ms(p.p99)} / ${ms(p.p999)}`,
    ),
    `p50 ${added(t?.p50, d?.p50)}, p99 ${added(t?.p99, d?.p99)}`,
    p50Goal,
  ]);
  rows.push([
    `${title}: CPU balancer / node / noise (1 core = 100%)`,
    ...both(
      (p) =>
        `${pctStr(p.pidsCpu[0])} / ${pctStr(p.serverCpu)} / ${pctStr(p.othersCpu)}`,
    ),
    `node ${ratio(t?.serverCpu, d?.serverCpu)}`,
    "",
  ]);
  rows.push([
    `${title}: balancer CPU per delivered push (µs)`,
    "",
    cell(t, (p) => ((p.pidsCpu[0] * 1e6) / p.deliveredPerSec).toFixed(1)),
    "",
    "",
  ]);
}

function balancerRows(cols) {
  const by = (name) => cols.find((c) => c.name === name);
  const d = by(DIRECT);
  const t = by(THROUGH);
  const rows = [];
  const links = (c) =>
    c && c.open ? `${k(c.open.ok)} / ${k(B.links)}` : "n/a";
  rows.push(["links connected (of requested)", links(d), links(t), "", ""]);
  rows.push([
    "connect rate (links/s)",
    d ? k(d.connectRate) : "n/a",
    t ? k(t.connectRate) : "n/a",
    ratio(t?.connectRate, d?.connectRate),
    "",
  ]);
  rows.push([
    "links held by the node / proxied by the balancer",
    d ? `${k(d.nodeLinks)} / ${k(d.balancerLinks)}` : "n/a",
    t ? `${k(t.nodeLinks)} / ${k(t.balancerLinks)}` : "n/a",
    "",
    "",
  ]);
  const addr = (c) =>
    c?.addresses && !c.addresses.error
      ? `${c.addresses.own} of ${c.addresses.sampled} (e.g. ${c.addresses.example})`
      : "n/a";
  rows.push([
    "sampled links whose address on the node is the client's own 127.x.y.z",
    addr(d),
    addr(t),
    "",
    "all (X-Forwarded-For believed from the balancer)",
  ]);
  rows.push([
    "balancer RSS with the links (MiB, no forced GC)",
    d?.balancerMem ? mib(d.balancerMem.rss) : "n/a",
    t?.balancerMem ? mib(t.balancerMem.rss) : "n/a",
    "",
    "",
  ]);
  const pickRate = (rate) => (name) =>
    by(name)?.push.find((p) => p.rate === rate);
  for (const rate of B.rates)
    phaseRows(rows, `push ${k(rate)}/s`, pickRate(rate), false);
  phaseRows(
    rows,
    `push max sustained (window ${k(B.window)})`,
    (name) => by(name)?.max,
    true,
  );
  return rows;
}

function balancerContext(node) {
  return [
    `One cluster-mode gateway node (${node ? node.nodeId : "?"}, Redis, etcd, no Kafka consumer, GATEWAY_UPGRADER_TRUSTED_PROXIES=127.0.0.1) and one balancer (GATEWAY_ROLE=balancer on :${B.port}, least_conn, probing every ${B.checkIntervalMs / 1000} s) in front of it, both started once. First ${k(B.links)} links straight to the node's /ws, then, after those are closed and the node holds none, ${k(B.links)} links to the balancer's /ws (proxied byte-for-byte to the same node), from ${CFG.loadgens} load-generator processes (${CFG.perAddr} links per 127.x.y.z source, HS256 JWT, one user per link). Each half warms up first (${CFG.warmupLinks} links, pushes, closed).`,
    `Push: unicast to random connected users through the node's POST /api/push, ${B.phaseMs / 1000} s per rate, what is due every ${CFG.tickMs} ms in one POST; latency from a CLOCK_MONOTONIC timestamp in the body to the client's parse of the frame. Max sustained: closed loop, at most ${k(B.window)} pushes accepted and not yet received (topped up as receipts come in) for ${B.maxMs / 1000} s; receipts/s and the latency of what was sent after the first ${B.maxWarmMs / 1000} s (at that rate p50 is mostly the window's queue). CPU: the balancer's own process, the node's, and "noise" (processes outside the bench); the load generators and the runner take the rest of the 2 cores. through ÷ direct: delivered/s as a ratio, latency as the ms added.`,
  ];
}

/**
 * The halves run one after the other on a shared machine: where the noise differed by more
 * than a quarter of a core, that phase's ratio is the machine's as much as the balancer's.
 */
function noiseNotes(cols) {
  const d = cols.find((c) => c.name === DIRECT);
  const t = cols.find((c) => c.name === THROUGH);
  if (!d || !t) return [];
  const pairs = B.rates.map((rate) => [
    `${k(rate)}/s`,
    d.push.find((p) => p.rate === rate),
    t.push.find((p) => p.rate === rate),
  ]);
  pairs.push(["max sustained", d.max, t.max]);
  const out = [];
  for (const [what, a, b] of pairs)
    if (a && b && Math.abs(a.othersCpu - b.othersCpu) > 0.25)
      out.push(
        `- ${what}: the noise was ${pctStr(a.othersCpu)} direct, ${pctStr(b.othersCpu)} through the balancer (other work on the machine): this phase's through ÷ direct mixes the balancer's cost with the machine's`,
      );
  return out;
}

function balancerTable(cols, node, failure) {
  const head = ["metric", DIRECT, THROUGH, "through ÷ direct", "goal"];
  const out = [
    "",
    `### balancer: ${k(B.links)} links to one node, direct and through the balancer (cluster mode)`,
    "",
    ...balancerContext(node),
    "",
    ...report.mdTable(head, balancerRows(cols)),
    "",
    ...report.notesBlock(cols, [
      ...noiseNotes(cols),
      ...(failure
        ? [`- failed: ${failure.split("\n").slice(0, 6).join(" / ")}`]
        : []),
    ]),
  ];
  return out.join("\n");
}

// ---------------------------------------------------------------- entry point

async function runBalancer() {
  let node;
  let balancer;
  const cols = [];
  let failure;
  try {
    node = await startNode();
    balancer = await startBalancer(node);
    log(
      `balancer bench: node ${node.nodeId} (pid ${node.server.pid}) behind balancer :${B.port} (pid ${balancer.child.pid})`,
    );
    cols.push(
      await runHalf(DIRECT, node, balancer, node.wsUrl, B.directAddrBase),
    );
    cols.push(
      await runHalf(THROUGH, node, balancer, balancer.wsUrl, B.throughAddrBase),
    );
  } catch (err) {
    failure = err.message;
    log(`balancer bench failed: ${err.stack || err.message}`);
  } finally {
    if (balancer)
      await stopChild(balancer.child, "SIGTERM", 10000).catch(() => undefined);
    if (node)
      await stopChild(node.server, "SIGTERM", 15000).catch(() => undefined);
    const etcd = new Etcd3({
      hosts: "http://127.0.0.1:2379",
      dialTimeout: 3000,
    });
    await etcd
      .delete()
      .prefix(`/gateway-bench-balancer-${process.pid}/`)
      .catch(() => undefined);
    etcd.close();
    await require("./kafka-bench")
      .cleanRedis(ISOLATION.GATEWAY_REDIS_KEY_PREFIX)
      .catch(() => 0);
  }
  return balancerTable(cols, node, failure);
}

module.exports = { runBalancer };
