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
 */
const { CFG } = require("./lib/config");
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
} = require("./lib/util");
const { startTarget, gatewayTarget, rawTarget } = require("./lib/servers");
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
};

const GW = "gateway (embedded)";
const RAW = "raw ws";

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
 * Open loop: acks over the time from the first send to the last ack (or the sending time if
 * longer). Closed loop: acks of the counted window per second, summed over the load generators.
 */
function ackRate(spec, rs) {
  if (spec.mode === "window")
    return sum(rs, (r) => r.inWindow / ((r.endUs - r.fromUs) / 1e6));
  const firstUs = Math.min(...rs.map((r) => r.firstUs));
  const endUs = Math.max(...rs.map((r) => r.endUs));
  const lastUs = Math.max(0, ...rs.map((r) => r.lastUs));
  return (
    sum(rs, (r) => r.acked) /
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
  p.sustained =
    spec.mode === "window" ||
    (p.ackedPerSec >= 0.95 * spec.rate && p.acked === p.sent);
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
    body: UCFG.body,
    tickMs: UCFG.tickMs,
    ...spec,
    // each load generator sends its share of the rate
    rate: spec.rate ? spec.rate / lgs.length : undefined,
  };
  const what = `uplink ${spec.mode} ${spec.rate || spec.window}`;
  await loopDelay(t.server); // resets the server's event-loop histogram
  const cpu = cpuMeter(t.server.pid);
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

/** The warm-up, each fixed rate (open loop), then the max sustained rate (closed loop). */
async function uplinkSeries(t, r, lgs) {
  await uplinkPhase(t, lgs, {
    mode: "rate",
    rate: UCFG.warmRate,
    durationMs: UCFG.warmMs,
  });
  for (const rate of UCFG.rates) {
    const p = await uplinkPhase(t, lgs, {
      mode: "rate",
      rate,
      durationMs: UCFG.phaseMs,
    });
    r.rates.push(p);
    logPhase(t, p);
    notePhase(r, p);
  }
  r.max = await uplinkPhase(t, lgs, {
    mode: "window",
    window: UCFG.window,
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
    `${name}: acks/s${offered ? " (offered)" : ""}`,
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

/** The table rows: a cell per server, the gateway ÷ raw ratio. */
function uplinkRows(gw, raw) {
  const rows = [];
  const cell = (c, pick, f) => {
    try {
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
  for (const rate of UCFG.rates)
    phaseRows(
      row,
      `uplink req->ack ${k(rate)}/s`,
      (c) => c.rates.find((p) => p.rate === rate),
      rate,
    );
  phaseRows(row, "uplink req->ack max sustained", (c) => c.max);
  return rows;
}

function uplinkContext() {
  return [
    `${UCFG.links} links from ${CFG.loadgens} load-generator processes (one user per link, gateway links with an HS256 JWT), one server at a time: the gateway in embedded mode answering with its built-in echo backend, and bench/raw-ws-server.js with RAW_UPLINK=1 (parse the frame, build the ack, send). Public protocol only: {"type":"req","id":"<n>","body":${JSON.stringify(UCFG.body)}} up, {"type":"ack","id":"<n>","code":0,"body":...} down. Latency: from just before the client's send to its parse of the ack, per id.`,
    `Fixed rates: open loop, what is due every ${UCFG.tickMs} ms sent round-robin over the links, ${UCFG.phaseMs / 1000} s per rate after a ${UCFG.warmMs / 1000} s warm-up at ${k(UCFG.warmRate)}/s; acks/s = acks / (first send to last ack). Max sustained: closed loop, every link keeps ${UCFG.window} reqs outstanding (a new one on each ack) for ${UCFG.maxMs / 1000} s, acks counted after the first ${UCFG.maxWarmMs / 1000} s. The load generators share the CPUs with the server, so the closed-loop figure is the machine's (clients included); "server CPU per ack" is the server's own cost (whole phase, drain included). Ratios are gateway ÷ raw: above 1 for latency and CPU is the gateway's extra cost, below 1 for acks/s is throughput it loses.`,
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

module.exports = { UCFG, runUplink, uplinkTable };
