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
 *   {cmd: 'join', room, concurrency}
 *       every open link sends {"type":"join","room"} and waits for its ack (id "join:<room>");
 *       -> {ev: 'joined', ok, failed, codes, ms}
 *   {cmd: 'fanout', phase, sampleEvery}  -> {ev: 'fanout', phase}
 *       from now on every push frame counts for this fan-out phase without being parsed
 *       (only one in `sampleEvery` is, for its latency): a room push reaches every link, so
 *       frames, not distinct mids, are what is counted, and the client's own cost stays low
 *   {cmd: 'fanoutStats', phase, stop} -> {ev: 'fanoutStats', phase, count, lat, lastUs, other}
 *       frames counted so far, sampled latencies (ms), µs of the last frame, sampled frames of
 *       another phase; stop: true ends the phase (frames go back to the normal path)
 *   {cmd: 'uplink', phase, mode: 'rate', rate, durationMs, tickMs, body}
 *   {cmd: 'uplink', phase, mode: 'window', window, durationMs, warmMs, body}
 *       client requests: {"type":"req","id":"<n>","body":<body>} frames, each answered by
 *       {"type":"ack","id":"<n>","code",...}; latency = µs of the ack's parse minus µs just
 *       before the send, per id. 'rate': open loop, `rate`/s (this process's share) spread
 *       round-robin over the open links, what is due every `tickMs` sent at once. 'window':
 *       closed loop, every open link keeps `window` reqs outstanding (one more on each ack)
 *       for `durationMs`; acks (and latencies) count after the first `warmMs`.
 *       -> {ev: 'uplinkSent', phase, sent} once sending stopped
 *   {cmd: 'uplinkCount', phase} -> {ev: 'uplinkCount', phase, acked, sent}
 *   {cmd: 'uplinkStats', phase} -> {ev: 'uplinkStats', phase, sent, acked, ok, inWindow, okInWindow, lat,
 *       codes, unknown, pending, firstUs, fromUs, endUs, lastUs, ...}; then forgets the phase
 *   {cmd: 'open', ..., follow: true}
 *       the same, and each link follows a move (docs/protocol.md): it keeps the (epoch, seq) of the
 *       last push it got, and when a `redirect {url}` came before its link closed it reconnects
 *       there at once with ?resume=<epoch>:<seq> (a 503 naming a peer sends it there)
 *   {cmd: 'moves'}          -> {ev: 'moves', hops, failed, errors}   µs (CLOCK_MONOTONIC) of every
 *       reconnect's `connected` after a redirect, and reconnects that failed
 *   {cmd: 'close'}          terminates every link and exits
 *
 * Push latency: the pusher puts {t: <µs of CLOCK_MONOTONIC>, p: <phase>} in the push body;
 * CLOCK_MONOTONIC (process.hrtime) is one clock for every process of the machine, so
 * receipt time minus t is the end-to-end latency (HTTP request, server, WebSocket, client parse).
 */
const jwt = require("jsonwebtoken");
const WebSocket = require("ws");
const { nowUs, pace, sleep } = require("./lib/util");

const MAX_SAMPLES_PER_PHASE = 1_000_000;
/** send each sample's send time with its stats (BENCH_DUMP; the Kafka scenarios ask for it) */
const DUMP = Boolean(process.env.BENCH_DUMP);

const links = [];
const phases = new Map(); // phase -> {lat: ms[] of first receipts, mids, dups, lastUs}
let unexpected = 0;
/** close codes of links that went away after `connected` (while we were not closing them) */
const lost = [];
let closing = false;
/** the fan-out phase being counted, or null */
let fan = null;
/** every push frame of both servers starts so; a fan-out frame is counted on this prefix */
const PUSH_PREFIX = Buffer.from('{"type":"push",');
const PL = PUSH_PREFIX.length;
/** links waiting for a join ack: ws -> resolve(code) */
const joinWaiters = new Map();
/** the uplink phase being run, or null (see startUplink) */
let up = null;
let reqSeq = 0;
/** following links: µs of each reconnect's `connected` after a redirect, and the ones that failed */
const hops = [];
let hopFailures = 0;
const hopErrors = [];

/** The JSON frame, or undefined (counted as unexpected) when it is not JSON. */
function parseFrame(data) {
  try {
    return JSON.parse(data.toString());
  } catch {
    unexpected++;
    return undefined;
  }
}

function onFanFrame(data) {
  const f = fan;
  const n = ++f.count;
  const now = nowUs();
  f.lastUs = now;
  if (n % f.sampleEvery !== 0 || f.lat.length >= MAX_SAMPLES_PER_PHASE) return;
  const frame = parseFrame(data);
  if (frame === undefined) return;
  const body = frame && frame.body;
  if (!body || typeof body.t !== "number") unexpected++;
  else if (body.p !== f.phase) f.other++;
  else f.lat.push((now - body.t) / 1000);
}

function send(msg) {
  if (process.connected) process.send(msg);
}

const newPhase = () => ({
  lat: [],
  sent: [],
  mids: new Set(),
  dups: 0,
  lastUs: 0,
});

function onPush(mid, body) {
  if (!body || typeof body.t !== "number") {
    unexpected++;
    return;
  }
  const now = nowUs();
  let ph = phases.get(body.p);
  if (!ph) phases.set(body.p, (ph = newPhase()));
  if (ph.mids.has(mid)) {
    ph.dups++;
    return;
  }
  ph.mids.add(mid);
  ph.lastUs = now;
  if (ph.lat.length < MAX_SAMPLES_PER_PHASE) {
    ph.lat.push((now - body.t) / 1000);
    ph.sent.push(body.t);
  }
}

// ---------------------------------------------------------------- links

/** The upgrade URL and headers of user `user`'s link: a token for the gateway, ?user= for raw. */
function linkRequest(opts, user) {
  if (opts.target === "raw")
    return { url: `${opts.url}?user=${user}`, headers: {} };
  const token = jwt.sign(
    { sub: user, biz: opts.biz, exp: Math.floor(Date.now() / 1000) + 3600 },
    opts.secret,
    { algorithm: "HS256" },
  );
  return { url: opts.url, headers: { Authorization: `Bearer ${token}` } };
}

/** Every frame of a link: pushes, acks (joins, uplink reqs), `connected`. */
function onLinkMessage(ws, data, ctl) {
  if (
    fan !== null &&
    data.length > PL &&
    data.compare(PUSH_PREFIX, 0, PL, 0, PL) === 0
  ) {
    onFanFrame(data);
    return;
  }
  const frame = parseFrame(data);
  if (frame === undefined) return;
  if (frame.type === "push") {
    onPush(frame.mid, frame.body);
    if (ctl.follow && typeof frame.seq === "number")
      ctl.cursor = `${frame.epoch}:${frame.seq}`;
  } else if (frame.type === "ack") onAck(ws, frame);
  else if (frame.type === "connected") ctl.connected();
  else if (frame.type === "redirect") ctl.redirect = frame.url;
}

function onAck(ws, frame) {
  const w = joinWaiters.get(ws);
  if (w && frame.id === w.id) {
    joinWaiters.delete(ws);
    w.resolve(frame.code);
  } else if (!w) onUplinkAck(ws, frame);
}

/** Opens one link; resolves true once `connected` arrived, false on any failure or timeout. */
function openOne(opts, userIndex, localAddress, errors) {
  return new Promise((resolve) => {
    const user = `u${userIndex}`;
    const { url, headers } = linkRequest(opts, user);
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
    const ctl = {
      follow: Boolean(opts.follow),
      cursor: "",
      redirect: undefined,
      slot: -1,
      connected: () => {
        if (settled) return;
        ctl.slot = links.push(ws) - 1;
        done(true);
      },
    };
    ws.on("unexpected-response", (_req, res) => fail(`HTTP ${res.statusCode}`));
    ws.on("error", (err) => fail(err.message));
    ws.on("close", (code) => {
      if (!settled) fail(`closed ${code} before connected`);
      else if (!closing && ctl.follow && ctl.redirect)
        reconnect(headers, localAddress, ctl, ctl.redirect, 0);
      else if (!closing) lost.push(code);
    });
    ws.on("message", (data) => onLinkMessage(ws, data, ctl));
  });
}

/**
 * A moved link's next link: `url` with ?resume=<cursor>, the same token and source address;
 * it takes the moved link's slot in `links` and follows moves in turn. A 503 with a peer in its
 * body goes there; a failed handshake (a peer too busy to answer in time) is tried again with
 * backoff, as a real client does, up to 10 times, with the same cursor.
 */
function reconnect(headers, localAddress, prev, url, tries) {
  const u = new URL(url);
  u.searchParams.set("resume", prev.cursor);
  const ws = new WebSocket(u.toString(), {
    headers,
    localAddress,
    perMessageDeflate: false,
    handshakeTimeout: 15000,
  });
  const ctl = {
    follow: true,
    cursor: prev.cursor,
    redirect: undefined,
    slot: prev.slot,
    up: false,
    connected: () => {
      ctl.up = true;
      links[ctl.slot] = ws;
      hops.push(nowUs());
    },
  };
  let gaveUp = false;
  const failed = (why) => {
    if (gaveUp) return;
    gaveUp = true;
    if (tries < 10) {
      setTimeout(
        () => reconnect(headers, localAddress, ctl, url, tries + 1),
        Math.min(5000, 250 * 2 ** tries * (0.5 + Math.random())),
      );
      return;
    }
    hopFailures++;
    if (hopErrors.length < 5) hopErrors.push(`${url}: ${why}`);
  };
  ws.on("unexpected-response", (_req, res) => {
    const chunks = [];
    res.on("data", (c) => chunks.push(c));
    res.on("end", () => {
      let peer;
      try {
        peer = JSON.parse(Buffer.concat(chunks).toString()).peer;
      } catch {
        peer = undefined;
      }
      if (peer && tries < 10) {
        gaveUp = true;
        setTimeout(
          () => reconnect(headers, localAddress, ctl, peer.url, tries + 1),
          100,
        );
      } else failed(`HTTP ${res.statusCode}`);
    });
  });
  ws.on("error", (err) => {
    if (!ctl.up) failed(err.message);
  });
  ws.on("close", (code) => {
    if (!ctl.up || closing) return;
    if (ctl.redirect) reconnect(headers, localAddress, ctl, ctl.redirect, 0);
    else lost.push(code);
  });
  ws.on("message", (data) => onLinkMessage(ws, data, ctl));
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

// ---------------------------------------------------------------- rooms

/** Sends the join frame on `ws`; resolves with the ack code, "timeout" or "closed". */
function joinOne(ws, id, frame, timeoutMs) {
  return new Promise((resolve) => {
    if (ws.readyState !== WebSocket.OPEN) return resolve("closed");
    const timer = setTimeout(() => {
      joinWaiters.delete(ws);
      resolve("timeout");
    }, timeoutMs);
    joinWaiters.set(ws, {
      id,
      resolve: (code) => {
        clearTimeout(timer);
        resolve(code);
      },
    });
    ws.send(frame);
  });
}

/** Every open link joins `room`; resolves with how many got ack code 0. */
async function join(opts) {
  const started = Date.now();
  const id = `join:${opts.room}`;
  const frame = JSON.stringify({ type: "join", room: opts.room });
  const codes = {};
  let ok = 0;
  let failed = 0;
  let next = 0;
  const todo = links.slice();
  const worker = async () => {
    while (next < todo.length) {
      const code = await joinOne(
        todo[next++],
        id,
        frame,
        opts.timeoutMs || 15000,
      );
      codes[code] = (codes[code] || 0) + 1;
      if (code === 0) ok++;
      else failed++;
    }
  };
  await Promise.all(
    Array.from(
      { length: Math.min(opts.concurrency || 100, todo.length) },
      worker,
    ),
  );
  send({ ev: "joined", ok, failed, codes, ms: Date.now() - started });
}

// ---------------------------------------------------------------- uplink req -> ack

function startUplink(m) {
  const firstUs = nowUs();
  up = {
    phase: m.phase,
    mode: m.mode,
    body: JSON.stringify(m.body ?? {}),
    /** id -> µs just before its req was sent */
    pending: new Map(),
    lat: [],
    sent: 0,
    acked: 0,
    ok: 0,
    inWindow: 0,
    /** of which code 0 */
    okInWindow: 0,
    codes: {},
    unknown: 0,
    notOpen: 0,
    stopped: false,
    firstUs,
    /** acks (and their latency) count from here: after the closed loop's warm-up */
    fromUs: firstUs + (m.warmMs || 0) * 1000,
    endUs: 0,
    lastUs: 0,
  };
  return links.filter((ws) => ws.readyState === WebSocket.OPEN);
}

function sendReq(ws) {
  if (ws.readyState !== WebSocket.OPEN) {
    up.notOpen++;
    return;
  }
  const id = String(++reqSeq);
  up.pending.set(id, nowUs());
  ws.send(`{"type":"req","id":"${id}","body":${up.body}}`);
  up.sent++;
}

function onUplinkAck(ws, frame) {
  const u = up;
  const sentUs = u ? u.pending.get(frame.id) : undefined;
  if (sentUs === undefined) {
    if (u) u.unknown++;
    else unexpected++;
    return;
  }
  const now = nowUs();
  u.pending.delete(frame.id);
  u.acked++;
  u.lastUs = now;
  if (frame.code === 0) u.ok++;
  else u.codes[frame.code] = (u.codes[frame.code] || 0) + 1;
  const counted = now >= u.fromUs && !u.stopped;
  if (counted) u.inWindow++;
  if (counted && frame.code === 0) u.okInWindow++;
  if ((u.mode === "rate" || counted) && u.lat.length < MAX_SAMPLES_PER_PHASE)
    u.lat.push((now - sentUs) / 1000);
  if (u.mode === "window" && !u.stopped) sendReq(ws);
}

/** Open loop: `rate`/s round-robin over the open links for `durationMs`. */
async function uplinkRate(m) {
  const open = startUplink(m);
  if (!open.length) throw new Error("no open link");
  let next = 0;
  await pace(m.rate, m.durationMs, m.tickMs, (due) => {
    for (let i = 0; i < due; i++) sendReq(open[next++ % open.length]);
  });
  up.stopped = true;
  up.endUs = nowUs();
}

/** Closed loop: every open link keeps `window` reqs outstanding for `durationMs`. */
async function uplinkWindow(m) {
  const open = startUplink(m);
  if (!open.length) throw new Error("no open link");
  for (const ws of open) for (let i = 0; i < m.window; i++) sendReq(ws);
  await sleep(m.durationMs);
  up.stopped = true;
  up.endUs = nowUs();
}

async function uplink(m) {
  await (m.mode === "window" ? uplinkWindow(m) : uplinkRate(m));
  send({ ev: "uplinkSent", phase: m.phase, sent: up.sent });
}

function uplinkStats(m) {
  const u = up && up.phase === m.phase ? up : null;
  if (u) up = null;
  const { pending, body, ...rest } = u || { pending: new Map(), lat: [] };
  send({
    ...rest,
    ev: "uplinkStats",
    phase: m.phase,
    pending: pending.size,
    lost: lost.length,
    lostCodes: [...new Set(lost)],
    unexpected,
  });
}

// ---------------------------------------------------------------- commands

function stats(m) {
  const ph = phases.get(m.phase) || newPhase();
  phases.delete(m.phase);
  send({
    ev: "stats",
    phase: m.phase,
    count: ph.mids.size,
    lat: ph.lat,
    sent: DUMP || m.withSent ? ph.sent : undefined,
    dups: ph.dups,
    lastUs: ph.lastUs,
    unexpected,
    lost: lost.length,
    lostCodes: [...new Set(lost)],
  });
}

function startFanout(m) {
  fan = {
    phase: m.phase,
    sampleEvery: Math.max(1, m.sampleEvery || 1),
    count: 0,
    lat: [],
    lastUs: 0,
    other: 0,
  };
  send({ ev: "fanout", phase: m.phase });
}

function fanoutStats(m) {
  const f =
    fan && fan.phase === m.phase
      ? fan
      : { count: 0, lat: [], lastUs: 0, other: 0 };
  if (m.stop && fan === f) fan = null;
  send({
    ev: "fanoutStats",
    phase: m.phase,
    count: f.count,
    lat: m.withLat ? f.lat : [],
    lastUs: f.lastUs,
    other: f.other,
    lost: lost.length,
    lostCodes: [...new Set(lost)],
  });
}

function close() {
  closing = true;
  for (const ws of links) ws.terminate();
  links.length = 0;
  setImmediate(() => process.exit(0));
}

/** an async command: its failure goes back as {ev: 'error'} */
const reportErrors = (f) => (m) =>
  f(m).catch((err) =>
    send({ ev: "error", cmd: m.cmd, message: err.stack || String(err) }),
  );

const COMMANDS = {
  open: reportErrors(open),
  count: (m) =>
    send({
      ev: "count",
      phase: m.phase,
      count: phases.has(m.phase) ? phases.get(m.phase).mids.size : 0,
    }),
  stats,
  join: reportErrors(join),
  fanout: startFanout,
  fanoutStats,
  uplink: reportErrors(uplink),
  uplinkCount: (m) =>
    send({
      ev: "uplinkCount",
      phase: m.phase,
      acked: up && up.phase === m.phase ? up.acked : 0,
      sent: up && up.phase === m.phase ? up.sent : 0,
    }),
  uplinkStats,
  moves: () =>
    send({ ev: "moves", hops, failed: hopFailures, errors: hopErrors }),
  close,
};

process.on("message", (m) => {
  if (!m || typeof m.cmd !== "string") return;
  if (Object.hasOwn(COMMANDS, m.cmd)) COMMANDS[m.cmd](m);
});

// the runner went away: do not linger holding sockets
process.once("disconnect", () => process.exit(0));
send({ ev: "ready", pid: process.pid });
