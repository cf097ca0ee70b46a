"use strict";
/**
 * The uplink scenario of `make bench` (BENCH_ONLY value `uplink`), run by bench/run.js
 * (runUplink): client requests through the public wire protocol only, so it runs unchanged
 * whatever the gateway's internals are.
 *
 * Clients (the loadgen processes, BENCH_UPLINK_LINKS links spread over them) send
 * {"type":"req","id":"<n>","body":{...small...}} frames; the server answers each with
 * {"type":"ack","id":"<n>","code":0,"body":...}. Measured on the client, per id: send -> ack.
 * Two servers, one at a time:
 *   gateway (embedded)  dist/src/main.js in embedded mode; its built-in echo backend answers
 *                       every req with the req's body
 *   raw ws              bench/raw-ws-server.js with RAW_UPLINK=1: parse the frame, build the
 *                       ack of the same shape, send it (the floor)
 * Per server, after a warm-up (not reported):
 *   - each BENCH_UPLINK_RATES rate (open loop) for BENCH_UPLINK_PHASE_MS: acks/s, latency
 *     p50/p99/p99.9/max, server CPU (and per ack), clients' CPU
 *   - the max sustained rate (closed loop): every link keeps BENCH_UPLINK_WINDOW reqs
 *     outstanding (one more on each ack) for BENCH_UPLINK_MAX_MS; acks/s after the first second
 * The table quotes gateway ÷ raw for each figure.
 *
 * Via a backend (BENCH_ONLY value `uplink-backend`, runUplinkBackend): the same phases with the
 * req body {"echo": "..."}, answered by one example gRPC backend (examples/backend, --no-etcd) that
 * both servers call, one at a time:
 *   ceiling             bench/raw-grpc-forwarder.js: parse the frame, Request over one grpc-js
 *                       channel, parse the reply, send the ack
 *   gateway (embedded)  with GATEWAY_BACKEND_STATIC=<biz>=<backend addr>; a probe req first
 *                       checks that its acks come from the backend (the echo reply carries
 *                       "instance"), else the column says "gateway client side not built yet"
 * Goals printed beside the rows: gateway max rate >= 0.7x the ceiling's, p99 at 2,000/s <= 2x.
 */
const { CFG, FORWARDER_ENTRY } = require("./lib/config");
const { stopChild, ask, askAll } = require("./lib/procs");
const { loopDelay } = require("./lib/probe");
const { cpuMeter } = require("./lib/cpu");
const {
  int,
  list,
  log,
  pct,
  mergeSorted,
  sum,
  union,
  drain,
  sleep,
} = require("./lib/util");
const { startTarget, gatewayTarget, rawTarget } = require("./lib/servers");
const backendLib = require("./lib/backend");
const { startLoadgens, closeLoadgens, openAll } = require("./lib/loadgens");
const report = require("./lib/report");
const { ms, k, pctStr } = report;

const env = process.env;

const UCFG = {
  links: int(env.BENCH_UPLINK_LINKS, 1000),
  rates: list(env.BENCH_UPLINK_RATES, "2000,5000"),
  phaseMs: int(env.BENCH_UPLINK_PHASE_MS, 10000),
  /** closed loop: reqs outstanding per link */
  window: Math.max(1, int(env.BENCH_UPLINK_WINDOW, 4)),
  /** the same through a backend: fewer, as each waits on a gRPC call (1,000 outstanding) */
  backendWindow: Math.max(1, int(env.BENCH_UPLINK_BACKEND_WINDOW, 1)),
  maxMs: int(env.BENCH_UPLINK_MAX_MS, 10000),
  /** closed loop: acks of the first second (all links starting at once) are not counted */
  maxWarmMs: 1000,
  /** warm-up before the measured phases (JIT, buffers): 1,000/s for 3 s */
  warmRate: 1000,
  warmMs: 3000,
  gwPort: int(env.BENCH_UPLINK_GW_PORT, 9232),
  govPort: int(env.BENCH_UPLINK_GOV_PORT, 9233),
  rawPort: int(env.BENCH_UPLINK_RAW_PORT, 9122),
  tickMs: 10,
  /** the req body: small, echoed back in the ack by both servers */
  body: { op: "echo", data: "0123456789abcdef" },
  rawAddrBase: 17,
  addrBase: 18,
  /** the uplink-backend scenario: its ports, source addresses and req body */
  fwdPort: int(env.BENCH_UPLINK_FWD_PORT, 9124),
  bGwPort: int(env.BENCH_UPLINK_BACKEND_GW_PORT, 9242),
  bGovPort: int(env.BENCH_UPLINK_BACKEND_GOV_PORT, 9243),
  fwdAddrBase: 19,
  bAddrBase: 20,
  backendBody: { echo: "0123456789abcdef" },
};

const GW = "gateway (embedded)";
const RAW = "raw ws";
const BGW = "gateway (embedded, via backend)";
const CEIL = "ceiling (ws -> gRPC forwarder)";
const NOT_BUILT = "gateway client side not built yet";
/** the fixed rate of the latency goal */
const GOAL_RATE = 2000;

let phaseSeq = 2000;

// ---------------------------------------------------------------- one phase

/** Merged ack codes other than 0 of every load generator: {code: count} */
function mergeCodes(rs) {
  const codes = {};
  for (const r of rs)
    for (const [c, n] of Object.entries(r.codes || {}))
      codes[c] = (codes[c] || 0) + n;
  return codes;
}

/**
 * Acks with code 0 (delivered: an error ack, a backend's deadline say, is no throughput).
 * Open loop: over the time from the first send to the last ack (or the sending time if
 * longer). Closed loop: of the counted window per second, summed over the load generators.
 */
function ackRate(spec, rs) {
  if (spec.mode === "window")
    return sum(rs, (r) => r.okInWindow / ((r.endUs - r.fromUs) / 1e6));
  const firstUs = Math.min(...rs.map((r) => r.firstUs));
  const endUs = Math.max(...rs.map((r) => r.endUs));
  const lastUs = Math.max(0, ...rs.map((r) => r.lastUs));
  return (
    sum(rs, (r) => r.ok) /
    Math.max((endUs - firstUs) / 1e6, lastUs ? (lastUs - firstUs) / 1e6 : 0)
  );
}

function uplinkResult(spec, rs, { sending, all, loop }) {
  const lat = mergeSorted(rs);
  const p = {
    mode: spec.mode,
    rate: spec.rate,
    window: spec.window,
    sent: sum(rs, (r) => r.sent),
    acked: sum(rs, (r) => r.acked),
    ok: sum(rs, (r) => r.ok),
    codes: mergeCodes(rs),
    unknown: sum(rs, (r) => r.unknown),
    notOpen: sum(rs, (r) => r.notOpen),
    ackedPerSec: ackRate(spec, rs),
    p50: pct(lat, 0.5),
    p99: pct(lat, 0.99),
    p999: pct(lat, 0.999),
    max: lat.length ? lat[lat.length - 1] : NaN,
    cpu: sending,
    loopP99: loop.p99,
    loopMax: loop.max,
    lost: sum(rs, (r) => r.lost),
    lostCodes: union(rs, "lostCodes"),
  };
  // server CPU per ack, over the whole phase (drain included): the server's own cost
  p.serverUsPerAck = p.acked ? (all.server * all.seconds * 1e6) / p.acked : NaN;
  // the example backend's (uplink-backend scenario), the same way
  p.backendUsPerAck = p.acked
    ? (all.deps[0] * all.seconds * 1e6) / p.acked
    : NaN;
  p.sustained =
    spec.mode === "window" ||
    (p.ackedPerSec >= 0.95 * spec.rate && p.ok === p.sent);
  return p;
}

/**
 * One phase on every load generator at once (`spec`: {mode: 'rate', rate} or {mode:
 * 'window', window}, durationMs); waits (bounded) for the outstanding acks, then collects.
 */
async function uplinkPhase(t, lgs, spec) {
  const phase = ++phaseSeq;
  const msg = {
    cmd: "uplink",
    phase,
    body: t.body || UCFG.body,
    tickMs: UCFG.tickMs,
    ...spec,
    // each load generator sends its share of the rate
    rate: spec.rate ? spec.rate / lgs.length : undefined,
  };
  const what = `uplink ${spec.mode} ${spec.rate || spec.window}`;
  await loopDelay(t.server); // resets the server's event-loop histogram
  const cpu = cpuMeter(t.server.pid, t.depPids || []);
  const sentBy = await Promise.all(
    lgs.map((c) => ask(c, msg, "uplinkSent", spec.durationMs + 30000, what)),
  );
  const sending = cpu();
  const count = async () =>
    sum(
      await askAll(lgs, { cmd: "uplinkCount", phase }, "uplinkCount", 10000),
      (r) => r.acked,
    );
  await drain(
    count,
    sum(sentBy, (r) => r.sent),
    2000,
    10000,
  );
  const all = cpu();
  const loop = await loopDelay(t.server);
  const rs = await askAll(
    lgs,
    { cmd: "uplinkStats", phase },
    "uplinkStats",
    30000,
  );
  return uplinkResult(spec, rs, { sending, all, loop });
}

// ---------------------------------------------------------------- one server

const label = (p) =>
  p.mode === "window"
    ? `max sustained (${p.window} per link)`
    : `${k(p.rate)}/s`;

function logPhase(t, p) {
  log(
    `${t.name}: uplink ${label(p)} -> sent ${p.sent} acked ${p.acked} (${Math.round(p.ackedPerSec)}/s) p50 ${ms(p.p50)} p99 ${ms(p.p99)} max ${ms(p.max)} ms; cpu server ${pctStr(p.cpu.server)} clients ${pctStr(p.cpu.clients)} others ${pctStr(p.cpu.others)}; ${p.serverUsPerAck.toFixed(1)} µs server CPU per ack; loop p99 ${ms(p.loopP99)} max ${ms(p.loopMax)} ms`,
  );
}

function notePhase(r, p) {
  const codes = Object.entries(p.codes);
  report.noteChecks(r.notes, `uplink ${label(p)}: `, [
    [p.sent > p.acked, `${p.sent - p.acked} reqs not acked within the drain`],
    [
      codes.length,
      `acks with a non-zero code: ${codes.map(([c, n]) => `${n} × ${c}`).join(", ")}`,
    ],
    [p.unknown, `${p.unknown} acks of an id not sent (or already acked)`],
    [p.notOpen, `${p.notOpen} reqs not sent: link not open`],
    [
      p.lost,
      `${p.lost} links closed under load (codes ${p.lostCodes.join(",")})`,
    ],
    [!p.sustained, `not sustained (${Math.round(p.ackedPerSec)} acks/s)`],
  ]);
}

/**
 * Through a backend an overloaded phase leaves a backlog (calls waiting on their deadline) that
 * would be measured as the next phase's: wait until a probe req is answered within 100 ms (or
 * 30 s passed) before each phase.
 */
async function settle(t) {
  if (!t.probe) return;
  const deadline = Date.now() + 30000;
  for (;;) {
    const started = Date.now();
    const ok = await backendLib.probeAck(t, UCFG.backendBody).then(
      () => Date.now() - started < 100,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) {
      log(`${t.name}: still busy after 30 s, measuring anyway`);
      return;
    }
    await sleep(500);
  }
}

/** The warm-up, each fixed rate (open loop), then the max sustained rate (closed loop). */
async function uplinkSeries(t, r, lgs) {
  await uplinkPhase(t, lgs, {
    mode: "rate",
    rate: UCFG.warmRate,
    durationMs: UCFG.warmMs,
  });
  for (const rate of UCFG.rates) {
    await settle(t);
    const p = await uplinkPhase(t, lgs, {
      mode: "rate",
      rate,
      durationMs: UCFG.phaseMs,
    });
    r.rates.push(p);
    logPhase(t, p);
    notePhase(r, p);
  }
  await settle(t);
  r.max = await uplinkPhase(t, lgs, {
    mode: "window",
    window: t.window || UCFG.window,
    durationMs: UCFG.maxMs,
    warmMs: UCFG.maxWarmMs,
  });
  logPhase(t, r.max);
  notePhase(r, r.max);
}

async function runUplinkTarget(t) {
  const r = { name: t.name, notes: [], rates: [] };
  log(`${t.name}: starting (uplink)`);
  await startTarget(t);
  let lgs = [];
  try {
    if (t.probe && !(await t.probe(t, r))) return r;
    lgs = await startLoadgens(CFG.loadgens);
    const o = await openAll(
      r,
      t.name,
      lgs,
      t.kind,
      t.wsUrl,
      t.addrBase,
      UCFG.links,
    );
    log(`${t.name}: ${o.ok} links in ${o.seconds.toFixed(1)} s`);
    await uplinkSeries(t, r, lgs);
  } finally {
    await closeLoadgens(lgs);
    await stopChild(t.server, "SIGTERM", 15000);
    if (t.server.exitCode)
      r.notes.push(
        `server exited with ${t.server.exitCode} on SIGTERM (see bench/results/${t.logName}.log)`,
      );
  }
  return r;
}

/** Runs one server; a failure becomes a column of notes, not the end of the bench. */
async function tryTarget(t) {
  try {
    return await runUplinkTarget(t);
  } catch (err) {
    if (t.notBuiltOn && t.notBuiltOn.test(err.message))
      return markNotBuilt(
        { name: t.name, rates: [], notes: [] },
        t.notBuiltWhy,
      );
    log(`${t.name} (uplink) failed: ${err.stack || err.message}`);
    return {
      name: t.name,
      rates: [],
      notes: [`failed: ${err.message.split("\n").slice(0, 6).join(" / ")}`],
    };
  }
}

// ---------------------------------------------------------------- report

/** "x.xx×" of gateway ÷ raw, "n/a" when either is missing */
const ratio = (a, b) =>
  Number.isFinite(a) && Number.isFinite(b) && b !== 0
    ? `${(a / b).toFixed(2)}×`
    : "n/a";

/** Rows of one phase (`pick` finds it in a column: a fixed rate, or the closed loop). */
function phaseRows(row, name, pick, offered) {
  row(
    `${name}: ok acks/s${offered ? " (offered)" : ""}`,
    (p) => `${k(p.ackedPerSec)}${offered ? ` (${k(offered)})` : ""}`,
    (g, r) => ratio(g.ackedPerSec, r.ackedPerSec),
    pick,
  );
  row(
    `${name}: p50 / p99 (ms)`,
    (p) => `${ms(p.p50)} / ${ms(p.p99)}`,
    (g, r) => `${ratio(g.p50, r.p50)} / ${ratio(g.p99, r.p99)}`,
    pick,
  );
  row(
    `${name}: p99.9 / max (ms)`,
    (p) => `${ms(p.p999)} / ${ms(p.max)}`,
    (g, r) => `${ratio(g.p999, r.p999)} / ${ratio(g.max, r.max)}`,
    pick,
  );
  row(
    `${name}: CPU server / clients / noise`,
    (p) =>
      `${pctStr(p.cpu.server)} / ${pctStr(p.cpu.clients)} / ${pctStr(p.cpu.others)}`,
    (g, r) => ratio(g.cpu.server, r.cpu.server),
    pick,
  );
  row(
    `${name}: server CPU per ack (µs)`,
    (p) => p.serverUsPerAck.toFixed(1),
    (g, r) => ratio(g.serverUsPerAck, r.serverUsPerAck),
    pick,
  );
}

/** The example backend's CPU rows (uplink-backend scenario). */
function backendRows(row, name, pick) {
  row(
    `${name}: example backend CPU / per ack (µs)`,
    (p) => `${pctStr(p.cpu.deps[0])} / ${p.backendUsPerAck.toFixed(1)}`,
    (g, r) => ratio(g.backendUsPerAck, r.backendUsPerAck),
    pick,
  );
}

/** The table rows: a cell per server, the gateway ÷ raw ratio (and the backend's CPU). */
function uplinkRows(gw, raw, withBackend = false) {
  const rows = [];
  const cell = (c, pick, f) => {
    try {
      if (c && c.notBuilt) return NOT_BUILT;
      const p = c && pick(c);
      return p ? f(p) : "n/a";
    } catch {
      return "n/a";
    }
  };
  const row = (metric, f, rf, pick) => {
    const g = gw && pick(gw);
    const r = raw && pick(raw);
    let rat = "n/a";
    if (g && r)
      try {
        rat = rf(g, r);
      } catch {
        /* n/a */
      }
    rows.push([metric, cell(gw, pick, f), cell(raw, pick, f), rat]);
  };
  const links = (c) => (c && c.open ? `${c.open.ok} / ${UCFG.links}` : "n/a");
  rows.push(["links connected", links(gw), links(raw), ""]);
  for (const rate of UCFG.rates) {
    const name = `uplink req->ack ${k(rate)}/s`;
    const pick = (c) => c.rates.find((p) => p.rate === rate);
    phaseRows(row, name, pick, rate);
    if (withBackend) backendRows(row, name, pick);
  }
  phaseRows(row, "uplink req->ack max sustained", (c) => c.max);
  if (withBackend)
    backendRows(row, "uplink req->ack max sustained", (c) => c.max);
  return rows;
}

function uplinkContext() {
  return [
    `${UCFG.links} links from ${CFG.loadgens} load-generator processes (one user per link, gateway links with an HS256 JWT), one server at a time: the gateway in embedded mode answering with its built-in echo backend, and bench/raw-ws-server.js with RAW_UPLINK=1 (parse the frame, build the ack, send). Public protocol only: {"type":"req","id":"<n>","body":${JSON.stringify(UCFG.body)}} up, {"type":"ack","id":"<n>","code":0,"body":...} down. Latency: from just before the client's send to its parse of the ack, per id.`,
    `Fixed rates: open loop, what is due every ${UCFG.tickMs} ms sent round-robin over the links, ${UCFG.phaseMs / 1000} s per rate after a ${UCFG.warmMs / 1000} s warm-up at ${k(UCFG.warmRate)}/s; ok acks/s = acks with code 0 / (first send to last ack). Max sustained: closed loop, every link keeps ${UCFG.window} reqs outstanding (a new one on each ack) for ${UCFG.maxMs / 1000} s, acks counted after the first ${UCFG.maxWarmMs / 1000} s. The load generators share the CPUs with the server, so the closed-loop figure is the machine's (clients included); "server CPU per ack" is the server's own cost (whole phase, drain included). Ratios are gateway ÷ raw: above 1 for latency and CPU is the gateway's extra cost, below 1 for acks/s is throughput it loses.`,
  ];
}

function uplinkTable(gw, raw) {
  const head = ["metric", GW, RAW, "gateway ÷ raw"];
  const out = [
    "### Uplink req -> ack",
    "",
    ...uplinkContext(),
    "",
    ...report.mdTable(head, uplinkRows(gw, raw)),
    "",
    ...report.notesBlock([raw, gw].filter(Boolean)),
  ];
  return out.join("\n");
}

// ---------------------------------------------------------------- via a backend

function markNotBuilt(r, why) {
  r.notBuilt = true;
  r.notes.push(`${NOT_BUILT}: ${why}`);
  log(`${r.name}: ${NOT_BUILT} (${why})`);
  return r;
}

/** Before the load: the gateway's ack to one echo req must come from the backend. */
async function probeGateway(t, r) {
  const ack = await backendLib.probeAck(t, UCFG.backendBody);
  if (backendLib.fromBackend(ack)) return true;
  markNotBuilt(r, `its ack carries no "instance": ${JSON.stringify(ack)}`);
  return false;
}

/** The ceiling must answer through the backend too, or the bench itself is broken. */
async function probeCeiling(t) {
  const ack = await backendLib.probeAck(t, UCFG.backendBody);
  if (!backendLib.fromBackend(ack))
    throw new Error(
      `the forwarder's ack is not the backend's: ${JSON.stringify(ack)}`,
    );
  return true;
}

function ceilingTarget(backend) {
  const t = rawTarget(
    CEIL,
    "grpc-forwarder-uplink",
    UCFG.fwdPort,
    UCFG.fwdAddrBase,
    {
      FWD_PORT: String(UCFG.fwdPort),
      FWD_BACKEND: backend.addr,
      FWD_BIZ: CFG.biz,
    },
  );
  t.entry = FORWARDER_ENTRY;
  return Object.assign(t, {
    body: UCFG.backendBody,
    window: UCFG.backendWindow,
    depPids: [backend.child.pid],
    probe: probeCeiling,
  });
}

function backendGatewayTarget(backend) {
  const t = gatewayTarget(
    BGW,
    "gateway-uplink-backend",
    "embedded",
    UCFG.bGwPort,
    UCFG.bGovPort,
    UCFG.bAddrBase,
  );
  t.env.GATEWAY_BACKEND_STATIC = `${CFG.biz}=${backend.addr}`;
  return Object.assign(t, {
    body: UCFG.backendBody,
    window: UCFG.backendWindow,
    depPids: [backend.child.pid],
    probe: probeGateway,
    // a gateway without the gRPC client side refuses the variable at startup
    notBuiltOn: /GATEWAY_BACKEND_STATIC: unknown variable/,
    notBuiltWhy: "it refuses GATEWAY_BACKEND_STATIC (unknown variable)",
  });
}

/** "≥ 0.7× ceiling (3,500): met" */
function goalText(what, g, bound, ok, fmt) {
  if (!Number.isFinite(bound)) return what;
  const text = `${what} (${fmt(bound)})`;
  if (!Number.isFinite(g)) return text;
  return `${text}: ${ok(g, bound) ? "met" : "**not met**"}`;
}

/** The goals, by the metric of their row. */
function backendGoals(gw, ceil) {
  const max = (c) => (c && !c.notBuilt && c.max ? c.max.ackedPerSec : NaN);
  const p99 = (c) => {
    const p = c && !c.notBuilt && c.rates.find((x) => x.rate === GOAL_RATE);
    return p ? p.p99 : NaN;
  };
  return {
    "uplink req->ack max sustained: ok acks/s": goalText(
      "≥ 0.7× ceiling",
      max(gw),
      0.7 * max(ceil),
      (g, b) => g >= b,
      k,
    ),
    [`uplink req->ack ${k(GOAL_RATE)}/s: p50 / p99 (ms)`]: goalText(
      "p99 ≤ 2× ceiling",
      p99(gw),
      2 * p99(ceil),
      (g, b) => g <= b,
      (x) => `${ms(x)} ms`,
    ),
  };
}

function backendContext() {
  return [
    `The same clients and phases as above, with the req body ${JSON.stringify(UCFG.backendBody)}, answered by one example gRPC backend (examples/backend, --no-etcd) shared by both servers, one at a time: bench/raw-grpc-forwarder.js (parse the frame, Request over one grpc-js channel, parse the reply, send the ack: the ceiling) and the gateway in embedded mode with GATEWAY_BACKEND_STATIC=${CFG.biz}=<backend addr>. A probe req checks first that the gateway's acks come from the backend (its echo reply carries "instance"). The backend's CPU is its own row (not in the clients' or the noise). Max sustained here: ${UCFG.backendWindow} req(s) outstanding per link (BENCH_UPLINK_BACKEND_WINDOW), each call with a 5 s deadline; only acks with code 0 count.`,
  ];
}

function backendTable(gw, ceil) {
  const head = ["metric", BGW, CEIL, "gateway ÷ ceiling", "goal"];
  const goals = backendGoals(gw, ceil);
  const rows = uplinkRows(gw, ceil, true).map((r) => [...r, goals[r[0]] || ""]);
  return [
    "### Uplink req -> ack through a gRPC backend",
    "",
    ...backendContext(),
    "",
    ...report.mdTable(head, rows),
    "",
    ...report.notesBlock([ceil, gw].filter(Boolean)),
  ].join("\n");
}

/** BENCH_ONLY uplink-backend: one example backend, the ceiling, then the gateway. */
async function runUplinkBackend() {
  let backend;
  try {
    backend = await backendLib.startExampleBackend(CFG.biz);
  } catch (err) {
    log(`example backend failed: ${err.message}`);
    const failed = {
      name: CEIL,
      rates: [],
      notes: [`example backend failed to start: ${err.message.split("\n")[0]}`],
    };
    return backendTable(undefined, failed);
  }
  try {
    const ceil = await tryTarget(ceilingTarget(backend));
    const gw = await tryTarget(backendGatewayTarget(backend));
    return backendTable(gw, ceil);
  } finally {
    await backendLib.stopExampleBackend(backend);
  }
}

// ---------------------------------------------------------------- entry point

/** BENCH_ONLY uplink: the raw ws floor, then the gateway; their markdown section. */
async function runUplink() {
  const raw = await tryTarget(
    rawTarget(RAW, "raw-ws-uplink", UCFG.rawPort, UCFG.rawAddrBase, {
      RAW_UPLINK: "1",
    }),
  );
  const gwT = gatewayTarget(
    GW,
    "gateway-uplink",
    "embedded",
    UCFG.gwPort,
    UCFG.govPort,
    UCFG.addrBase,
  );
  const gw = await tryTarget(gwT);
  return uplinkTable(gw, raw);
}

module.exports = { UCFG, runUplink, runUplinkBackend, uplinkTable };
