#!/usr/bin/env node
"use strict";
/**
 * `make demo`: the whole system on this machine, as a person first sees it. Expects the build
 * (dist/) and the native dependencies (Redis, etcd, Kafka: `make deps`) to be there, then starts
 *   - three gateway nodes (cluster mode) on 9002/9003, 9012/9013, 9022/9023,
 *   - the balancer on 8080 (the admin UI at http://127.0.0.1:8080/),
 *   - the example gRPC backend for biz `demo` (registered in etcd),
 *   - `gateway-client --count N` through the balancer: named clients that print every push,
 * prints where to look and how to try a failover, and stops everything on Ctrl-C.
 *
 * Also a library (test/e2e/demo.test.ts drives the failover walkthrough through it):
 * startDemo(options) -> { nodes, balancer, backend, clients, urls, killNode(i), restartNode(i), stop() }.
 *
 * Env: DEMO_PORT_BASE (9002: node i uses base+10i and base+10i+1), DEMO_BALANCER_PORT (8080),
 * DEMO_CLIENTS (5), DEMO_CHECK_INTERVAL_MS (the balancer's health check, 10000),
 * DEMO_ETCD_PREFIX (/demo/nodes/), DEMO_REDIS_PREFIX (demo:), GATEWAY_ETCD_ENDPOINTS,
 * GATEWAY_REDIS_URL, GATEWAY_KAFKA_BROKERS (the local ones).
 */
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const MAIN = path.join(ROOT, "dist/src/main.js");
const CLI = path.join(ROOT, "dist/src/client/cli.js");
const BACKEND = path.join(ROOT, "dist/examples/backend/backend.js");
const NODE_FLAGS = ["--max-semi-space-size=16", "--v8-pool-size=1"];

const DEFAULTS = {
  portBase: Number(process.env.DEMO_PORT_BASE ?? 9002),
  balancerPort: Number(process.env.DEMO_BALANCER_PORT ?? 8080),
  clients: Number(process.env.DEMO_CLIENTS ?? 5),
  checkIntervalMs: Number(process.env.DEMO_CHECK_INTERVAL_MS ?? 10000),
  etcdPrefix: process.env.DEMO_ETCD_PREFIX ?? "/demo/nodes/",
  redisPrefix: process.env.DEMO_REDIS_PREFIX ?? "demo:",
  groupId: process.env.DEMO_GROUP_ID ?? "demo-gateway",
  backendPrefix: process.env.DEMO_BACKEND_PREFIX ?? "/demo/backends/",
  jwtSecret: process.env.GATEWAY_JWT_SECRET ?? "demo-jwt-secret-0123456789",
  adminToken: process.env.GATEWAY_ADMIN_TOKEN ?? "demo-admin-token-0123456789",
  biz: "demo",
  logDir: path.join(ROOT, ".demo"),
  /** what each started process logs to: a file per process (the CLI's stdout is also handed to onPush) */
  quiet: false,
};

function sharedEnv(o) {
  const env = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("GATEWAY_")) env[k] = v;
  for (const k of [
    "GATEWAY_ETCD_ENDPOINTS",
    "GATEWAY_REDIS_URL",
    "GATEWAY_KAFKA_BROKERS",
  ])
    if (process.env[k]) env[k] = process.env[k];
  return {
    ...env,
    GATEWAY_MODE: "cluster",
    GATEWAY_JWT_SECRET: o.jwtSecret,
    GATEWAY_ADMIN_TOKEN: o.adminToken,
    GATEWAY_ETCD_PREFIX: o.etcdPrefix,
    GATEWAY_REDIS_KEY_PREFIX: o.redisPrefix,
    GATEWAY_PUSH_GROUP_ID: o.groupId,
    GATEWAY_BACKEND_ETCD_PREFIX: o.backendPrefix,
    GATEWAY_LOG_LEVEL: "info",
  };
}

/** a child whose output goes to .demo/<name>.log; resolves once `ready` matches a line (or it exits) */
function launch(o, name, args, env, ready, onLine) {
  fs.mkdirSync(o.logDir, { recursive: true });
  const out = fs.createWriteStream(path.join(o.logDir, `${name}.log`), {
    flags: "a",
  });
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const proc = { name, child, pid: child.pid, exited: false, exit: undefined };
  proc.exitPromise = new Promise((resolve) =>
    child.once("exit", (code, signal) => {
      proc.exited = true;
      proc.exit = { code, signal };
      out.end();
      resolve(proc.exit);
    }),
  );
  const lines = [];
  proc.lines = lines;
  let matched;
  const readyPromise = new Promise((resolve, reject) => {
    matched = resolve;
    proc.exitPromise.then((e) =>
      reject(
        new Error(
          `${name} exited during startup (${JSON.stringify(e)}); see ${path.join(o.logDir, `${name}.log`)}:\n${lines.slice(-20).join("\n")}`,
        ),
      ),
    );
  });
  for (const [stream, tag] of [
    [child.stdout, "out"],
    [child.stderr, "err"],
  ]) {
    let rest = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
      out.write(chunk);
      const parts = (rest + chunk).split("\n");
      rest = parts.pop();
      for (const line of parts) {
        if (!line) continue;
        lines.push(line);
        if (lines.length > 500) lines.shift();
        if (ready && ready.test(line)) matched();
        onLine?.(line, tag);
      }
    });
  }
  if (!ready) matched();
  proc.ready = readyPromise;
  proc.stop = async (signal = "SIGTERM", killAfterMs = 15000) => {
    if (proc.exited) return proc.exit;
    child.kill(signal);
    const t = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    try {
      return await proc.exitPromise;
    } finally {
      clearTimeout(t);
    }
  };
  return proc;
}

async function startDemo(options = {}) {
  const o = { ...DEFAULTS, ...options };
  for (const [file, what] of [
    [MAIN, "the gateway"],
    [CLI, "gateway-client"],
    [BACKEND, "the example backend"],
  ])
    if (!fs.existsSync(file))
      throw new Error(
        `${what} is not built (${path.relative(ROOT, file)} missing): run make build`,
      );
  const env = sharedEnv(o);
  const started = [];
  // nodePorts: [[ws, governance] x 3] instead of portBase + 10i (the e2e test picks free ports)
  const nodeSpecs = [0, 1, 2].map((i) => ({
    id: `${o.nodePrefix ?? "demo"}-${i + 1}`,
    port: o.nodePorts ? o.nodePorts[i][0] : o.portBase + 10 * i,
    governancePort: o.nodePorts ? o.nodePorts[i][1] : o.portBase + 10 * i + 1,
  }));
  const nodeEnv = (s) => ({
    ...env,
    GATEWAY_NODE_ID: s.id,
    GATEWAY_PORT: String(s.port),
    GATEWAY_GOVERNANCE_PORT: String(s.governancePort),
    // the balancer runs here: believe its X-Forwarded-For
    GATEWAY_UPGRADER_TRUSTED_PROXIES: "127.0.0.1",
    GATEWAY_ETCD_LOAD_INTERVAL_MS: "1000",
  });
  const startNode = (s) =>
    launch(
      o,
      s.id,
      [...NODE_FLAGS, MAIN],
      nodeEnv(s),
      /"msg":"gateway node ready"/,
    );
  const nodes = [];
  const stopAll = async () => {
    await Promise.all(
      started
        .filter((p) => p.name.startsWith("clients"))
        .map((p) => p.stop("SIGINT")),
    );
    await Promise.all(started.map((p) => p.stop()));
  };
  try {
    for (const s of nodeSpecs) {
      const p = startNode(s);
      started.push(p);
      nodes.push({
        ...s,
        proc: p,
        wsUrl: `ws://127.0.0.1:${s.port}/ws`,
        adminUrl: `http://127.0.0.1:${s.governancePort}`,
      });
    }
    await Promise.all(nodes.map((n) => n.proc.ready));

    const backend = launch(
      o,
      "backend",
      [
        BACKEND,
        "--biz",
        o.biz,
        "--listen",
        "127.0.0.1:0",
        "--etcd-prefix",
        o.backendPrefix,
      ],
      env,
      /"msg":"backend ready"/,
    );
    started.push(backend);
    await backend.ready;

    const balancer = launch(
      o,
      "balancer",
      [MAIN],
      {
        ...env,
        GATEWAY_ROLE: "balancer",
        GATEWAY_NODE_ID: "demo-balancer",
        GATEWAY_BALANCER_PORT: String(o.balancerPort),
        GATEWAY_BALANCER_STRATEGY: "least_conn",
        GATEWAY_BALANCER_CHECK_INTERVAL_MS: String(o.checkIntervalMs),
      },
      /"msg":"balancer ready"/,
    );
    started.push(balancer);
    await balancer.ready;
    const balancerUrl = `http://127.0.0.1:${o.balancerPort}`;
    // the nodes are probed at once when the balancer sees them: wait until it takes links
    const deadline = Date.now() + 15000;
    for (;;) {
      const res = await fetch(`${balancerUrl}/health`).catch(() => undefined);
      if (res?.ok) break;
      if (Date.now() > deadline)
        throw new Error(
          `the balancer has no healthy node after 15 s; see ${o.logDir}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }

    const pushes = [];
    const clients = launch(
      o,
      "clients",
      [
        CLI,
        "--url",
        `ws://127.0.0.1:${o.balancerPort}/ws`,
        "--name",
        "demo-user",
        "--user",
        "demo-user",
        "--biz",
        o.biz,
        "--secret",
        o.jwtSecret,
        "--count",
        String(o.clients),
        // moved links come back through the balancer, like new ones
        "--no-follow-redirects",
      ],
      env,
      undefined,
      (line, tag) => {
        if (tag !== "out") return;
        try {
          const f = JSON.parse(line);
          if (f.type === "push") pushes.push(f);
          options.onPush?.(f);
        } catch {
          // not a JSON line
        }
      },
    );
    started.push(clients);

    return {
      options: o,
      nodes,
      balancer,
      backend,
      clients,
      pushes,
      urls: {
        ui: `${balancerUrl}/`,
        balancer: balancerUrl,
        ws: `ws://127.0.0.1:${o.balancerPort}/ws`,
      },
      users: Array.from({ length: o.clients }, (_, i) => `demo-user-${i + 1}`),
      async killNode(i) {
        return nodes[i].proc.stop("SIGKILL");
      },
      async restartNode(i) {
        const p = startNode(nodes[i]);
        started.push(p);
        nodes[i].proc = p;
        await p.ready;
        return p;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function main() {
  let demo;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nstopping the demo...\n");
    await demo?.stop();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    demo = await startDemo({
      onPush: (f) => process.stdout.write(`push  ${JSON.stringify(f)}\n`),
    });
  } catch (err) {
    process.stderr.write(`demo failed: ${err.message}\n`);
    process.exit(1);
  }
  const o = demo.options;
  const n = demo.nodes;
  process.stdout.write(`
The demo is running (logs in ${path.relative(process.cwd(), o.logDir) || "."}/).

  admin UI      ${demo.urls.ui}    (sign in with the admin token: ${o.adminToken})
  balancer      ${demo.urls.ws}    strategy least_conn, health checks every ${o.checkIntervalMs / 1000} s
  nodes         ${n.map((x) => `${x.id} ${x.wsUrl}`).join("\n                ")}
  backend       biz ${o.biz} (example gRPC backend, registered in etcd)
  clients       ${demo.users.join(", ")} through the balancer (gateway-client --count ${o.clients})

Try:
  push to a client   curl -s -H 'Authorization: Bearer ${o.adminToken}' -H 'content-type: application/json' \\
                       -d '{"bizId":"${o.biz}","to":{"users":["demo-user-1"]},"body":{"hello":"world"}}' ${demo.urls.balancer}/api/push
  a failover         kill -9 ${n[1].proc.pid}    (${n[1].id}: its clients come back through the balancer on the others;
                     the UI and ${demo.urls.balancer}/api/backends show it unhealthy within ${o.checkIntervalMs / 1000} s)
  restart it         kill -USR2 ${process.pid}    (restarts every demo node that is not running)
  the nodes          curl -s -H 'Authorization: Bearer ${o.adminToken}' ${demo.urls.balancer}/api/backends
  your own client    node dist/src/client/cli.js --url ${demo.urls.ws} --name you --user you --biz ${o.biz} --secret ${o.jwtSecret}

Ctrl-C stops everything.
`);
  const watch = (x) =>
    x.proc.exitPromise.then((e) => {
      if (!stopping)
        process.stdout.write(
          `node ${x.id} exited (${e.signal ?? `code ${e.code}`}); kill -USR2 ${process.pid} restarts it\n`,
        );
    });
  n.forEach(watch);
  process.on("SIGUSR2", async () => {
    for (let i = 0; i < n.length; i++) {
      if (!n[i].proc.exited || stopping) continue;
      process.stdout.write(`restarting ${n[i].id}...\n`);
      try {
        await demo.restartNode(i);
        watch(n[i]);
        process.stdout.write(`${n[i].id} is back (pid ${n[i].proc.pid})\n`);
      } catch (err) {
        process.stdout.write(`${n[i].id} did not come back: ${err.message}\n`);
      }
    }
  });
}

module.exports = { startDemo, DEFAULTS };

if (require.main === module) void main();
