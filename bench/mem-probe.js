"use strict";
/**
 * Preloaded into every server under test (`node --expose-gc -r bench/mem-probe.js <entry>`),
 * so the runner can read memory the same way for the gateway and the raw ws baseline:
 *   parent -> {probe: 'mem', id, gc}   child -> {probe: 'mem', id, rss, heapUsed, ...}
 *   parent -> {probe: 'snapshot', id, file} child -> {probe: 'snapshot', id, file}  heap snapshot
 *   parent -> {probe: 'loop', id}      child -> {probe: 'loop', id, p50, p99, max}  event-loop delay
 *                                      (ms) since the previous 'loop' request
 * With gc: true it runs two full collections first, so the reading is live memory rather
 * than whatever garbage the last burst left. It also makes the server die with the runner:
 * when the IPC channel closes (runner killed), the server gets SIGTERM.
 */
if (typeof process.send === "function") {
  const { monitorEventLoopDelay } = require("node:perf_hooks");
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  process.on("message", (m) => {
    if (m && m.probe === "loop") {
      // event-loop delay since the previous 'loop' request, in ms
      process.send({
        probe: "loop",
        id: m.id,
        p50: loop.percentile(50) / 1e6,
        p99: loop.percentile(99) / 1e6,
        max: loop.max / 1e6,
      });
      loop.reset();
      return;
    }
    if (m && m.probe === "snapshot") {
      // a heap snapshot to m.file (BENCH_HEAP_SNAPSHOTS); v8 collects garbage first
      const file = require("node:v8").writeHeapSnapshot(m.file);
      process.send({ probe: "snapshot", id: m.id, file });
      return;
    }
    if (!m || m.probe !== "mem") return;
    if (m.gc && typeof global.gc === "function") {
      global.gc();
      global.gc();
    }
    const mem = process.memoryUsage();
    const spaces = {};
    for (const sp of require("node:v8").getHeapSpaceStatistics())
      spaces[sp.space_name] = sp.physical_space_size;
    process.send({
      probe: "mem",
      id: m.id,
      gc: Boolean(m.gc && typeof global.gc === "function"),
      ...mem,
      spaces,
    });
  });
  process.once("disconnect", () => process.kill(process.pid, "SIGTERM"));
  // the channel must not keep a server alive on its own
  if (process.channel && typeof process.channel.unref === "function")
    process.channel.unref();
}
