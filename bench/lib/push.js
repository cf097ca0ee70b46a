"use strict";
/**
 * Unicast pushes through a server's push API (gateway: POST /api/push with an envelope array;
 * raw ws: POST /push) at fixed rates, as `make bench` measures them: shared by bench/run.js and
 * the scenarios that push the same way (bench/balancer-bench.js).
 */
const http = require("node:http");
const { CFG } = require("./config");
const { httpJson } = require("./http");
const { loopDelay } = require("./probe");
const { cpuTicks, machineTicks, benchTicks, CLK_TCK } = require("./cpu");
const { nowUs, sleep, log, pct, pace, drain } = require("./util");
const { loadgenCount, loadgenStats } = require("./loadgens");
const report = require("./report");

let phaseSeq = 0;
/** a new phase number (the body's `p`: receipts are counted per phase) */
const nextPhase = () => ++phaseSeq;

/**
 * The POST of `n` envelopes to random users of `users`, counted in `st` (sent, errors,
 * routed=0); `flow.idle()` once the last one is answered after `flow.finished`.
 */
function pushPoster(t, users, st, { agent, rtts, flow }) {
  return (n) => {
    const ts = nowUs();
    const items = new Array(n);
    for (let i = 0; i < n; i++)
      items[i] = t.envelope(`u${users[(Math.random() * users.length) | 0]}`, {
        t: ts,
        p: st.phase,
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
        if (flow.finished && st.inflight === 0) flow.idle();
      });
  };
}

/** What is due each tick in POSTs of at most 1000 envelopes; skipped when maxInflight are pending. */
function pushTick(st, post) {
  return (due) => {
    while (due > 0) {
      const n = Math.min(due, 1000);
      if (st.inflight >= CFG.maxInflight) {
        st.skipped += due;
        break;
      }
      post(n);
      due -= n;
    }
  };
}

/**
 * CPU readings at the start of a push phase; the returned function gives the phase's use: the
 * server's, each of `pids` (other processes of the bench, e.g. a balancer in front of the
 * server: cores, 1 = 100%, over the sending time) and the noise.
 */
function pushCpu(t, pids = []) {
  const cpu0 = cpuTicks(t.server.pid);
  const pids0 = pids.map(cpuTicks);
  const machine0 = machineTicks();
  const bench0 = benchTicks();
  return (sendSeconds) => ({
    cpuSeconds: (cpuTicks(t.server.pid) - cpu0) / CLK_TCK,
    pidsCpu: pids.map(
      (p, i) => (cpuTicks(p) - pids0[i]) / CLK_TCK / sendSeconds,
    ),
    // CPU that processes outside the bench took meanwhile (other work on the machine)
    othersCpu:
      Math.max(0, machineTicks() - machine0 - (benchTicks() - bench0)) /
      CLK_TCK /
      sendSeconds,
  });
}

/**
 * Unicast pushes at `rate`/s for `durationMs` to random users of `users`: every tick sends what
 * is due in POSTs of at most 1000 envelopes. Ticks are skipped (and counted) when maxInflight
 * POSTs are pending, so an overloaded server shows up as a lower sent rate, not an unbounded queue.
 */
async function pushPhase(t, lgs, users, rate, durationMs, { pids } = {}) {
  const phase = nextPhase();
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
  const cpu = pushCpu(t, pids);
  const wall0 = process.hrtime.bigint();
  const flow = { finished: false };
  const allAnswered = new Promise((r) => (flow.idle = r));
  const rtts = [];
  const post = pushPoster(t, users, st, { agent, rtts, flow });
  const offered = await pace(rate, durationMs, CFG.tickMs, pushTick(st, post));
  const sendSeconds = Number(process.hrtime.bigint() - wall0) / 1e9;
  flow.finished = true;
  if (st.inflight > 0) await Promise.race([allAnswered, sleep(20000)]);
  // wait (bounded) until what the server accepted has reached the clients
  const count = () => loadgenCount(lgs, phase);
  await drain(count, st.sent - st.notRouted, Infinity, 5000);
  const used = cpu(sendSeconds);
  const loop = await loopDelay(t.server);
  agent.destroy();
  const s = await loadgenStats(lgs, phase);
  return pushResult(st, { offered, sendSeconds, wall0, s, used, loop, rtts });
}

/**
 * One phase's figures. `deliveredPerSec`: the rate when the caller measured it itself (a closed
 * loop counting receipts over a window); by default the distinct pushes received over the time
 * from the first send to the last receipt (or the sending time if longer).
 */
function pushResult(
  st,
  { offered, sendSeconds, wall0, s, used, loop, rtts, deliveredPerSec },
) {
  const sortedRtts = Float64Array.from(rtts).sort();
  return {
    ...st,
    offered,
    sendSeconds,
    delivered: s.count,
    dups: s.dups,
    deliveredPerSec:
      deliveredPerSec ??
      s.count /
        Math.max(
          sendSeconds,
          s.lastUs ? (s.lastUs - Number(wall0 / 1000n)) / 1e6 : 0,
        ),
    p50: pct(s.lat, 0.5),
    p99: pct(s.lat, 0.99),
    p999: pct(s.lat, 0.999),
    max: s.lat.length ? s.lat[s.lat.length - 1] : NaN,
    serverCpu: used.cpuSeconds / sendSeconds,
    othersCpu: used.othersCpu,
    pidsCpu: used.pidsCpu,
    loopP99: loop.p99,
    postP50: pct(sortedRtts, 0.5),
    postP99: pct(sortedRtts, 0.99),
    batch: st.posts ? offered / st.posts : 0,
    loopMax: loop.max,
    lost: s.lost,
    lostCodes: s.lostCodes,
  };
}

function logPushPhase(t, rate, p) {
  log(
    `${t.name}: ${rate}/s -> sent ${p.sent} delivered ${p.delivered} (${Math.round(p.deliveredPerSec)}/s) p50 ${p.p50.toFixed(2)} p99 ${p.p99.toFixed(2)} max ${p.max.toFixed(1)} ms; cpu ${(p.serverCpu * 100).toFixed(0)}%; others ${(p.othersCpu * 100).toFixed(0)}%; loop delay p99 ${p.loopP99.toFixed(1)} max ${p.loopMax.toFixed(1)} ms; POST rtt p50 ${p.postP50.toFixed(2)} p99 ${p.postP99.toFixed(2)} ms (${p.batch.toFixed(0)}/POST)${p.skipped ? `; skipped ${p.skipped}` : ""}${p.httpErrors ? `; http errors ${p.httpErrors}: ${p.errorSample}` : ""}`,
  );
}

function notePushPhase(r, rate, p) {
  report.noteChecks(r.notes, `${rate}/s: `, [
    [p.httpErrors, `${p.httpErrors} POSTs failed (${p.errorSample})`],
    [
      p.skipped,
      `pusher skipped ${p.skipped} pushes (${CFG.maxInflight} POSTs pending): server saturated`,
    ],
    [p.dups, `${p.dups} duplicate push frames (same mid received again)`],
    [
      p.lost,
      `${p.lost} links closed under load (codes ${p.lostCodes.join(",")})`,
    ],
    [
      p.sent - p.notRouted > p.delivered,
      `${p.sent - p.notRouted - p.delivered} accepted pushes not received within 5 s`,
    ],
    [p.notRouted, `${p.notRouted} pushes answered routed=0`],
  ]);
}

module.exports = {
  pushPoster,
  pushTick,
  pushCpu,
  pushPhase,
  pushResult,
  logPushPhase,
  notePushPhase,
  nextPhase,
};
