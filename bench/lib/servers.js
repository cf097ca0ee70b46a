"use strict";
/** Starting the servers under test (gateway, raw ws baseline) and describing them as targets. */
const { fork } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const {
  CFG,
  ROOT,
  GATEWAY_ENTRY,
  RAW_ENTRY,
  PROBE,
  RESULTS,
} = require("./config");
const { track, exited, stopChild } = require("./procs");
const { httpJson, portOpen } = require("./http");
const { log, sleep } = require("./util");

/** node flags of the server: the probe, and the gateway's shipped flags for the gateway */
function serverExecArgv(entry) {
  return [
    "--expose-gc",
    "-r",
    PROBE,
    // the gateway runs with the flags it ships with (Makefile NODE_FLAGS, Dockerfile, npm start)
    ...(entry === GATEWAY_ENTRY
      ? (
          process.env.BENCH_GATEWAY_NODE_ARGS ??
          "--max-semi-space-size=16 --v8-pool-size=1"
        )
          .split(" ")
          .filter(Boolean)
      : // a raw server runs with node's defaults (BENCH_RAW_NODE_ARGS adds flags, e.g. --cpu-prof)
        (process.env.BENCH_RAW_NODE_ARGS ?? "").split(" ").filter(Boolean)),
  ];
}

/** Forks the server; its output goes to `logPath`, the last 30 lines are kept in child.tail. */
function forkServer(name, entry, childEnv, logPath) {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "ws-bench-"));
  const out = fs.createWriteStream(logPath);
  const tail = [];
  const child = track(
    fork(entry, [], {
      cwd,
      env: childEnv,
      execArgv: serverExecArgv(entry),
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    }),
  );
  const keep = (chunk) => {
    out.write(chunk);
    for (const line of chunk.toString().split("\n"))
      if (line.trim()) tail.push(line);
    while (tail.length > 30) tail.shift();
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.once("exit", (code, sig) => {
    if (!child.stopping)
      log(
        `${name} (pid ${child.pid}) exited unexpectedly with ${code ?? sig}; output in ${path.relative(ROOT, logPath)}`,
      );
    out.end();
  });
  child.tail = tail;
  child.logPath = logPath;
  return child;
}

/** Polls `readyUrl` for up to 30 s; resolves with the last failure, or undefined once ready. */
async function waitReadyUrl(child, readyUrl, check) {
  const deadline = Date.now() + 30000;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (exited(child)) break;
    try {
      const r = await httpJson("GET", readyUrl, { timeoutMs: 1000 });
      if (r.status === 200) {
        if (check) check(r);
        return undefined;
      }
      last = `HTTP ${r.status} ${r.text.slice(0, 200)}`;
    } catch (err) {
      last = err.message;
    }
    await sleep(100);
  }
  return last;
}

/**
 * Forks a server with the memory probe preloaded, keeps its output in bench/results/<name>.log
 * and resolves once `readyUrl` answers 200 (rejecting with the output tail if it dies first).
 */
async function startServer(name, entry, childEnv, ports, readyUrl, check) {
  for (const p of ports)
    if (await portOpen(p))
      throw new Error(
        `${name}: port ${p} is already in use (another instance running? set the BENCH_*_PORT variables)`,
      );
  const logPath = path.join(RESULTS, `${name}.log`);
  const child = forkServer(name, entry, childEnv, logPath);
  const last = await waitReadyUrl(child, readyUrl, check);
  if (last === undefined) return child;
  await stopChild(child, "SIGKILL", 1000);
  const why = exited(child)
    ? `exited with ${child.exitCode ?? child.signalCode}`
    : `did not answer ${readyUrl} within 30 s (${last})`;
  throw new Error(
    `${name} failed to start: ${why}\n--- last output (${logPath}) ---\n${child.tail.join("\n")}`,
  );
}

/**
 * The cluster-mode bench node shares Redis, etcd and Kafka with whatever else runs here (tests,
 * a dev node): its own key prefix, registry prefix, consumer group and topics keep it from
 * joining their cluster, taking their Kafka partitions or mixing its data with theirs.
 */
const CLUSTER_ISOLATION = {
  GATEWAY_REDIS_KEY_PREFIX: "gwbench:",
  GATEWAY_ETCD_PREFIX: "/gateway-bench/nodes/",
  GATEWAY_PUSH_TOPIC: "bench.gateway.push",
  GATEWAY_PUSH_DLQ_TOPIC: "bench.gateway.push.dlq",
  GATEWAY_PUSH_EVENTS_TOPIC: "bench.gateway.events",
  GATEWAY_PUSH_GROUP_ID: "ws-gateway-bench",
};

/** BENCH_GATEWAY_ENV="GATEWAY_X=1 GATEWAY_Y=2": extra settings for the gateway under test */
function extraGatewayEnv() {
  const out = {};
  for (const kv of (process.env.BENCH_GATEWAY_ENV || "")
    .split(/\s+/)
    .filter(Boolean)) {
    const i = kv.indexOf("=");
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

function gatewayEnv(
  mode,
  gwPort,
  govPort,
  nodeId,
  isolation = CLUSTER_ISOLATION,
) {
  const e = {};
  for (const [key, v] of Object.entries(process.env))
    if (!key.startsWith("GATEWAY_") && key !== "CONFIG_FILE") e[key] = v;
  return Object.assign(
    e,
    {
      GATEWAY_MODE: mode,
      GATEWAY_NODE_ID: nodeId,
      GATEWAY_PORT: String(gwPort),
      GATEWAY_GOVERNANCE_PORT: String(govPort),
      GATEWAY_LOG_LEVEL: "warn",
      GATEWAY_JWT_SECRET: CFG.jwtSecret,
      GATEWAY_ADMIN_TOKEN: CFG.adminToken,
      GATEWAY_GATEWAY_MAX_CONNECTIONS: String(
        Math.max(25000, CFG.links + CFG.warmupLinks + 1000),
      ),
      GATEWAY_UPGRADER_RATE_PER_IP: "1000000",
    },
    mode === "cluster" ? isolation : {},
    extraGatewayEnv(),
  );
}

/** Throws unless /health/live is answered by the node the bench started. */
const checkNode = (nodeId, govPort) => (r) => {
  if (r.json?.node !== nodeId)
    throw new Error(
      `port ${govPort} is answered by node ${r.json?.node}, not the one the bench started`,
    );
};

/** A gateway node as a target: how to start it, reach its links and push to them. */
function gatewayTarget(name, logName, mode, gwPort, govPort, addrBase) {
  const nodeId = `bench-${mode}-${process.pid}`;
  return {
    name,
    logName,
    kind: "gateway",
    entry: GATEWAY_ENTRY,
    env: gatewayEnv(mode, gwPort, govPort, nodeId),
    ports: [gwPort, govPort],
    govPort,
    readyUrl: `http://127.0.0.1:${govPort}/health/live`,
    check: checkNode(nodeId, govPort),
    wsUrl: `ws://127.0.0.1:${gwPort}/ws`,
    pushUrl: `http://127.0.0.1:${govPort}/api/push`,
    pushHeaders: { Authorization: `Bearer ${CFG.adminToken}` },
    envelope: (user, body) => ({
      bizId: CFG.biz,
      to: { users: [user] },
      body,
    }),
    addrBase,
  };
}

/** The raw ws server (bench/raw-ws-server.js) as a target; `extraEnv` selects its modes. */
function rawTarget(name, logName, port, addrBase, extraEnv = {}) {
  return {
    name,
    logName,
    kind: "raw",
    entry: RAW_ENTRY,
    env: { ...process.env, RAW_PORT: String(port), ...extraEnv },
    ports: [port],
    rawPort: port,
    readyUrl: `http://127.0.0.1:${port}/health`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    pushUrl: `http://127.0.0.1:${port}/push`,
    pushHeaders: {},
    envelope: (user, body) => ({ user, body }),
    addrBase,
  };
}

/** Starts the target's server (t.server). */
async function startTarget(t) {
  t.server = await startServer(
    t.logName,
    t.entry,
    t.env,
    t.ports,
    t.readyUrl,
    t.check,
  );
  return t.server;
}

/** Redis, etcd and Kafka: the ones not answering on their port */
async function clusterDepsUp() {
  const deps = [
    ["redis", 6379],
    ["etcd", 2379],
    ["kafka", 9092],
  ];
  const down = [];
  for (const [name, port] of deps)
    if (!(await portOpen(port))) down.push(`${name} (127.0.0.1:${port})`);
  return down;
}

module.exports = {
  startServer,
  startTarget,
  gatewayEnv,
  gatewayTarget,
  rawTarget,
  checkNode,
  CLUSTER_ISOLATION,
  clusterDepsUp,
};
