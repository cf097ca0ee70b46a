"use strict";
/**
 * One load-generator process of `make bench` (forked by bench/run.js; several run at once so
 * each stays far under the per-process fd limit). Driven over IPC:
 *
 *   {cmd: 'open', target, url, users: [first, count], addrs, perAddr, concurrency, secret, biz, timeoutMs}
 *       opens `count` links, user ids u<first>..; link i binds source address addrs[floor(i / perAddr)]
 *       (distinct 127.x.y.z, so neither the ephemeral port range nor a per-IP limit is shared);
 *       gateway links carry an HS256 token, raw links ?user=. A link counts once its
 *       `connected` frame arrived. Replies {ev: 'opened', ok, failed, okUsers, errors, ms}.
 *   {cmd: 'count', phase}   -> {ev: 'count', phase, count}   distinct pushes (by mid) of that phase so far
 *   {cmd: 'stats', phase}   -> {ev: 'stats', phase, count, lat, dups, lastUs}
 *       latencies (ms) of first receipts, frames repeating a mid already seen, µs of the last
 *       first receipt; then forgets the phase
 *   {cmd: 'close'}          terminates every link and exits
 *
 * Push latency: the pusher puts {t: <µs of CLOCK_MONOTONIC>, p: <phase>} in the push body;
 * CLOCK_MONOTONIC (process.hrtime) is one clock for every process of the machine, so
 * receipt time minus t is the end-to-end latency (HTTP request, server, WebSocket, client parse).
 */
const jwt = require("jsonwebtoken");
const WebSocket = require("ws");

const MAX_SAMPLES_PER_PHASE = 1_000_000;
/** also keep each sample's send time, for BENCH_DUMP */
const DUMP = Boolean(process.env.BENCH_DUMP);
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

const links = [];
const phases = new Map(); // phase -> {lat: ms[] of first receipts, mids, dups, lastUs}
let unexpected = 0;
/** close codes of links that went away after `connected` (while we were not closing them) */
const lost = [];
let closing = false;

function send(msg) {
  if (process.connected) process.send(msg);
}

function onPush(mid, body) {
  if (!body || typeof body.t !== "number") {
    unexpected++;
    return;
  }
  const now = nowUs();
  let ph = phases.get(body.p);
  if (!ph)
    phases.set(
      body.p,
      (ph = { lat: [], sent: [], mids: new Set(), dups: 0, lastUs: 0 }),
    );
  if (ph.mids.has(mid)) {
    ph.dups++;
    return;
  }
  ph.mids.add(mid);
  ph.lastUs = now;
  if (ph.lat.length < MAX_SAMPLES_PER_PHASE) {
    ph.lat.push((now - body.t) / 1000);
    if (DUMP) ph.sent.push(body.t);
  }
}

/** Opens one link; resolves true once `connected` arrived, false on any failure or timeout. */
function openOne(opts, userIndex, localAddress, errors) {
  return new Promise((resolve) => {
    const user = `u${userIndex}`;
    let url;
    const headers = {};
    if (opts.target === "raw") url = `${opts.url}?user=${user}`;
    else {
      url = opts.url;
      const token = jwt.sign(
        { sub: user, biz: opts.biz, exp: Math.floor(Date.now() / 1000) + 3600 },
        opts.secret,
        { algorithm: "HS256" },
      );
      headers.Authorization = `Bearer ${token}`;
    }
    let settled = false;
    const ws = new WebSocket(url, {
      headers,
      localAddress,
      perMessageDeflate: false,
      handshakeTimeout: opts.timeoutMs,
      followRedirects: false,
    });
    const timer = setTimeout(
      () => fail("no connected frame in time"),
      opts.timeoutMs,
    );
    const done = (ok) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(ok);
    };
    function fail(reason) {
      if (settled) return;
      if (errors.length < 5) errors.push(`${user}@${localAddress}: ${reason}`);
      ws.terminate();
      done(false);
    }
    ws.on("unexpected-response", (_req, res) => fail(`HTTP ${res.statusCode}`));
    ws.on("error", (err) => fail(err.message));
    ws.on("close", (code) => {
      if (!settled) fail(`closed ${code} before connected`);
      else if (!closing) lost.push(code);
    });
    ws.on("message", (data) => {
      let frame;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        unexpected++;
        return;
      }
      if (frame.type === "push") onPush(frame.mid, frame.body);
      else if (frame.type === "connected") {
        if (!settled) {
          links.push(ws);
          done(true);
        }
      }
    });
  });
}

async function open(opts) {
  const started = Date.now();
  const [first, count] = opts.users;
  const okUsers = [];
  const errors = [];
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const addr =
        opts.addrs[
          Math.min(opts.addrs.length - 1, Math.floor(i / opts.perAddr))
        ];
      if (await openOne(opts, first + i, addr, errors)) okUsers.push(first + i);
      else failed++;
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(opts.concurrency, count) }, worker),
  );
  send({
    ev: "opened",
    ok: okUsers.length,
    failed,
    okUsers,
    errors,
    ms: Date.now() - started,
  });
}

process.on("message", (m) => {
  if (!m || typeof m.cmd !== "string") return;
  switch (m.cmd) {
    case "open":
      open(m).catch((err) =>
        send({ ev: "error", message: err.stack || String(err) }),
      );
      break;
    case "count":
      send({
        ev: "count",
        phase: m.phase,
        count: phases.has(m.phase) ? phases.get(m.phase).mids.size : 0,
      });
      break;
    case "stats": {
      const ph = phases.get(m.phase) || {
        lat: [],
        sent: [],
        mids: new Set(),
        dups: 0,
        lastUs: 0,
      };
      phases.delete(m.phase);
      send({
        ev: "stats",
        phase: m.phase,
        count: ph.mids.size,
        lat: ph.lat,
        sent: DUMP ? ph.sent : undefined,
        dups: ph.dups,
        lastUs: ph.lastUs,
        unexpected,
        lost: lost.length,
        lostCodes: [...new Set(lost)],
      });
      break;
    }
    case "close":
      closing = true;
      for (const ws of links) ws.terminate();
      links.length = 0;
      setImmediate(() => process.exit(0));
      break;
    default:
      break;
  }
});

// the runner went away: do not linger holding sockets
process.once("disconnect", () => process.exit(0));
send({ ev: "ready", pid: process.pid });
