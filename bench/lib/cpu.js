"use strict";
/** CPU accounting from /proc: a process, the whole machine, the bench itself. */
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const { children, exited } = require("./procs");

function cpuTicks(pid) {
  try {
    const fields = fs
      .readFileSync(`/proc/${pid}/stat`, "utf8")
      .split(") ")[1]
      .split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

/** busy jiffies of the whole machine (all CPUs) */
function machineTicks() {
  try {
    const f = fs
      .readFileSync("/proc/stat", "utf8")
      .split("\n")[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    // user nice system idle iowait irq softirq steal
    return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  } catch {
    return NaN;
  }
}

/** CPU jiffies of the bench itself: this process and every child it started */
function benchTicks() {
  let sum = cpuTicks(process.pid);
  for (const c of children) if (!exited(c)) sum += cpuTicks(c.pid);
  return sum;
}

const CLK_TCK = (() => {
  try {
    return (
      Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
    );
  } catch {
    return 100;
  }
})();

/**
 * Starts measuring; the returned function gives the CPU (1 core = 1) since then of the
 * server, of `depPids` (Redis, the Kafka broker), of the bench's other processes (clients,
 * producer, runner) and of everything else outside the bench.
 */
function cpuMeter(serverPid, depPids = []) {
  const read = () => ({
    at: performance.now(),
    server: cpuTicks(serverPid),
    deps: depPids.map((p) => (p ? cpuTicks(p) : NaN)),
    machine: machineTicks(),
    bench: benchTicks(),
  });
  const a = read();
  return () => {
    const b = read();
    const secs = (b.at - a.at) / 1000;
    const per = (x) => x / CLK_TCK / secs;
    const deps = b.deps.map((x, i) => per(x - a.deps[i]));
    const depSum = deps.reduce((s, x) => s + (Number.isFinite(x) ? x : 0), 0);
    return {
      server: per(b.server - a.server),
      deps,
      // the load generators, the producer and the runner
      clients: per(b.bench - a.bench - (b.server - a.server)),
      others: Math.max(
        0,
        per(b.machine - a.machine - (b.bench - a.bench)) - depSum,
      ),
      seconds: secs,
    };
  };
}

/** pid of the process listening on a local TCP port (Redis, the Kafka broker), for its CPU */
function pidOfPort(port) {
  try {
    const out = execFileSync("ss", ["-ltnpH", `sport = :${port}`], {
      stdio: ["ignore", "pipe", "ignore"],
    }).toString();
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

module.exports = {
  cpuTicks,
  machineTicks,
  benchTicks,
  CLK_TCK,
  cpuMeter,
  pidOfPort,
};
