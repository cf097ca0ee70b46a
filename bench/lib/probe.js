"use strict";
/**
 * The runner's side of bench/mem-probe.js (preloaded into every server under test): memory,
 * event-loop delay and heap snapshots over IPC.
 */
const fs = require("node:fs");
const path = require("node:path");
const { waitMessage } = require("./procs");
const { log, median, sleep } = require("./util");
const { mib } = require("./report");

let probeSeq = 0;

/** Sends a probe request and resolves with the server's reply of the same id. */
function probe(child, msg, timeoutMs, what) {
  const id = ++probeSeq;
  const reply = waitMessage(
    child,
    (m) => m && m.probe === msg.probe && m.id === id,
    timeoutMs,
    what,
  );
  child.send({ ...msg, id });
  return reply;
}

/** Event-loop delay (ms: p50, p99, max) since the previous call; resets the histogram. */
const loopDelay = (child) =>
  probe(child, { probe: "loop" }, 15000, "loop probe");

async function memOnce(child, gc) {
  const m = await probe(child, { probe: "mem", gc }, 15000, "memory probe");
  if (process.env.BENCH_DEBUG_MEM)
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

/** A reading without forcing GC, then the median of 3 readings each after two full GCs. */
async function steadyMem(child) {
  const noGc = await memOnce(child, false);
  const samples = [];
  for (let i = 0; i < 3; i++) {
    if (i) await sleep(300);
    samples.push(await memOnce(child, true));
  }
  const med = (f) => median(samples.map(f));
  return {
    noGcRss: noGc.rss,
    rss: med((s) => s.rss),
    young: med((s) => s.spaces.new_space ?? 0),
    // RSS without V8's young generation, whose size follows the allocation rate, not the links
    core: med((s) => s.rss - (s.spaces.new_space ?? 0)),
    heapUsed: med((s) => s.heapUsed),
    external: med((s) => s.external),
    gc: samples.every((s) => s.gc),
    vmRss: med((s) => s.vmRss ?? s.rss),
  };
}

/** BENCH_HEAP_SNAPSHOTS=<dir>: a heap snapshot of the server next to each memory reading. */
async function snapshot(t, label) {
  const dir = process.env.BENCH_HEAP_SNAPSHOTS;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  const file = path.resolve(dir, `${t.logName}-${label}.heapsnapshot`);
  await probe(t.server, { probe: "snapshot", file }, 120000, "heap snapshot");
  log(`${t.name}: heap snapshot ${file}`);
}

module.exports = { loopDelay, memOnce, steadyMem, snapshot };
