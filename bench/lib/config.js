"use strict";
/** The runner's settings (BENCH_* knobs, documented at the top of bench/run.js) and paths. */
const path = require("node:path");
const { int, list } = require("./util");

const BENCH = path.resolve(__dirname, "..");
const ROOT = path.resolve(BENCH, "..");
const env = process.env;

const GATEWAY_ENTRY = env.BENCH_GATEWAY_ENTRY
  ? path.resolve(env.BENCH_GATEWAY_ENTRY)
  : path.join(ROOT, "dist/src/main.js");

const CFG = {
  links: int(env.BENCH_LINKS, 10000),
  loadgens: Math.max(1, int(env.BENCH_LOADGENS, 4)),
  perAddr: 500,
  concurrency: 50, // handshakes in flight per loadgen process
  warmupLinks: 200,
  rates: list(env.BENCH_RATES, "1000,5000,10000"),
  phaseMs: int(env.BENCH_PHASE_MS, 10000),
  tickMs: 10,
  maxInflight: 64, // POSTs in flight before the pusher skips ticks (and says so)
  cluster: (env.BENCH_CLUSTER || "auto").toLowerCase(),
  only: new Set(
    (
      env.BENCH_ONLY ||
      "raw,gateway,cluster,uplink,uplink-backend,kafka,fanout,move,balancer"
    )
      .split(",")
      .map((x) => x.trim()),
  ),
  rawPort: int(env.BENCH_RAW_PORT, 9102),
  gwPort: int(env.BENCH_GW_PORT, 9202),
  govPort: int(env.BENCH_GOV_PORT, 9203),
  clusterGwPort: int(env.BENCH_CLUSTER_GW_PORT, 9212),
  clusterGovPort: int(env.BENCH_CLUSTER_GOV_PORT, 9213),
  jwtSecret: "bench-jwt-secret-0123456789abcdef",
  adminToken: "bench-admin-token-0123456789abcdef",
  biz: "bench",
  deadlineMs: 14 * 60 * 1000, // every scenario (make bench): the balancer one added ~3 min
};

module.exports = {
  CFG,
  ROOT,
  GATEWAY_ENTRY,
  RAW_ENTRY: path.join(BENCH, "raw-ws-server.js"),
  FORWARDER_ENTRY: path.join(BENCH, "raw-grpc-forwarder.js"),
  LOADGEN: path.join(BENCH, "loadgen.js"),
  PRODUCER: path.join(BENCH, "kafka-producer.js"),
  PROBE: path.join(BENCH, "mem-probe.js"),
  RESULTS: path.join(BENCH, "results"),
};
