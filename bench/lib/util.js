"use strict";
/** Small helpers shared by every bench process (runner, load generators, producer). */

/** An integer env knob: `d` when unset, empty or not a number. */
const int = (v, d) =>
  v !== undefined && v !== "" && Number.isFinite(Number(v))
    ? Math.floor(Number(v))
    : d;

/** A comma-separated list of positive integers (`d` when unset), e.g. BENCH_RATES. */
const list = (v, d) =>
  (v || d)
    .split(",")
    .map((r) => int(r.trim(), 0))
    .filter((r) => r > 0);

/** µs of CLOCK_MONOTONIC: one clock for every process of the machine. */
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Nearest-rank percentile of a sorted array (NaN when empty). */
const pct = (sorted, q) =>
  sorted.length
    ? sorted[
        Math.min(
          sorted.length - 1,
          Math.max(0, Math.ceil(q * sorted.length) - 1),
        )
      ]
    : NaN;

/** The `key` arrays of every reply, in one sorted Float64Array (latency histograms). */
function mergeSorted(rs, key = "lat") {
  const out = new Float64Array(rs.reduce((a, r) => a + r[key].length, 0));
  let o = 0;
  for (const r of rs) {
    out.set(r[key], o);
    o += r[key].length;
  }
  return out.sort();
}

const sum = (xs, f) => xs.reduce((a, x) => a + f(x), 0);
/** distinct values of the `key` arrays of every reply */
const union = (xs, key) => [...new Set(xs.flatMap((x) => x[key]))];

/**
 * Open-loop pacing: every `tickMs` calls `onDue(n)` with what is due at `rate`/s since the
 * start (n > 0), for `durationMs`. Resolves with the total offered.
 */
function pace(rate, durationMs, tickMs, onDue) {
  const t0 = performance.now();
  let accounted = 0;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Math.min(durationMs, performance.now() - t0);
      const due = Math.floor((rate * elapsed) / 1000) - accounted;
      if (due > 0) {
        onDue(due);
        accounted += due;
      }
      if (elapsed >= durationMs) {
        clearInterval(timer);
        resolve(accounted);
      }
    }, tickMs);
  });
}

/** Waits (bounded) until `count()` reaches `expected` or stops growing for `quietMs`. */
async function drain(count, expected, quietMs, maxMs) {
  const deadline = Date.now() + maxMs;
  let got = await count();
  let last = got;
  let lastChange = Date.now();
  while (got < expected && Date.now() < deadline) {
    await sleep(100);
    got = await count();
    if (got !== last) {
      last = got;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > quietMs) break;
  }
  return got;
}

/** Polls `read()` every `pollMs` until it returns `want` or `timeoutMs` passed; the last value. */
async function pollUntil(read, want, timeoutMs, pollMs) {
  const deadline = Date.now() + timeoutMs;
  let v = await read();
  while (v !== want && Date.now() < deadline) {
    await sleep(pollMs);
    v = await read();
  }
  return v;
}

module.exports = {
  int,
  list,
  nowUs,
  sleep,
  log,
  median,
  pct,
  mergeSorted,
  sum,
  union,
  pace,
  drain,
  pollUntil,
};
