"use strict";
/** The runner's side of bench/loadgen.js: starting load generators, opening links, stats. */
const fs = require("node:fs");
const { CFG, LOADGEN } = require("./config");
const {
  exited,
  stopChild,
  forkWorker,
  waitReady,
  waitMessage,
  askAll,
} = require("./procs");
const { mergeSorted, sum, union } = require("./util");

async function startLoadgens(n) {
  const lgs = [];
  for (let i = 0; i < n; i++) {
    const child = forkWorker(LOADGEN);
    child.setMaxListeners(50);
    lgs.push(child);
  }
  await Promise.all(lgs.map((c) => waitReady(c, "loadgen")));
  return lgs;
}

async function closeLoadgens(lgs) {
  for (const c of lgs) if (!exited(c) && c.connected) c.send({ cmd: "close" });
  await Promise.all(
    lgs.map((c) => stopChild(c, "SIGKILL", 5000).catch(() => undefined)),
  );
}

/** Asks loadgen `c` (the i-th) to open `count` links from users `first`.. */
function openOn(
  c,
  i,
  { target, url, addrBase, addrOffset, follow },
  first,
  count,
) {
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
    follow: Boolean(follow),
  });
  return reply;
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
  follow = false,
) {
  const per = Math.ceil(total / lgs.length);
  const started = process.hrtime.bigint();
  const where = { target, url, addrBase, addrOffset, follow };
  const res = await Promise.all(
    lgs.map((c, i) =>
      openOn(
        c,
        i,
        where,
        userBase + i * per,
        Math.max(0, Math.min(per, total - i * per)),
      ),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const bad = res.find((r) => r.ev === "error");
  if (bad) throw new Error(`loadgen failed: ${bad.message}`);
  return {
    ok: sum(res, (r) => r.ok),
    failed: sum(res, (r) => r.failed),
    okUsers: res.flatMap((r) => r.okUsers),
    errors: res.flatMap((r) => r.errors).slice(0, 5),
    seconds,
  };
}

/**
 * Opens `count` links on `url` from the load generators; records the result in `r.open`, notes
 * failures, and throws when none connected.
 */
async function openAll(r, name, lgs, target, url, addrBase, count) {
  const o = await openLinks(lgs, target, url, addrBase, count, 0, 0);
  r.open = o;
  if (o.failed)
    r.notes.push(
      `${o.failed} links failed to connect (e.g. ${o.errors.join("; ")})`,
    );
  if (!o.ok)
    throw new Error(`${name}: no link connected: ${o.errors.join("; ")}`);
  return o;
}

/** distinct pushes of `phase` received so far, over all load generators */
async function loadgenCount(lgs, phase) {
  const rs = await askAll(
    lgs,
    { cmd: "count", phase },
    "count",
    10000,
    "count",
  );
  return sum(rs, (r) => r.count);
}

/** BENCH_DUMP: appends [send µs, latency ms] of every sample of the phase to the file */
function dumpSamples(rs, record) {
  if (!process.env.BENCH_DUMP) return;
  const pairs = rs.flatMap((r) => r.lat.map((l, i) => [r.sent[i], l]));
  pairs.sort((a, b) => a[0] - b[0]);
  fs.appendFileSync(
    process.env.BENCH_DUMP,
    JSON.stringify({ ...record, pairs }) + "\n",
  );
}

/** The phase's receipts over all load generators (which then forget it). */
async function loadgenStats(lgs, phase) {
  const rs = await askAll(
    lgs,
    { cmd: "stats", phase },
    "stats",
    30000,
    "stats",
  );
  // [send µs, latency ms] of every sample, to see when slow pushes happen
  dumpSamples(rs, { phase });
  return {
    count: sum(rs, (r) => r.count),
    lat: mergeSorted(rs),
    dups: sum(rs, (r) => r.dups),
    lastUs: Math.max(0, ...rs.map((r) => r.lastUs)),
    lost: sum(rs, (r) => r.lost),
    lostCodes: union(rs, "lostCodes"),
    unexpected: sum(rs, (r) => r.unexpected),
  };
}

module.exports = {
  startLoadgens,
  closeLoadgens,
  openLinks,
  openAll,
  loadgenCount,
  loadgenStats,
  dumpSamples,
};
