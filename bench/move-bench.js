"use strict";
/**
 * The `move` scenario of `make bench` (BENCH_ONLY value `move`; needs Redis, etcd and Kafka):
 * three cluster-mode nodes A, B, C; BENCH_MOVE_LINKS links (10,000) open on A from the load
 * generators, which follow moves (redirect -> reconnect with ?resume=<epoch>:<seq>). A push
 * stream of BENCH_MOVE_PUSH_RATE unicast pushes/s to random users of those links runs through
 * B's POST /api/push, first for BENCH_MOVE_BEFORE_MS (p99 before), then while the bench writes a
 * `shed` directive with targetLinks 0 to A's directive key in etcd (as the leader would), until
 * every link has moved to B or C. Reports: time to move (directive written -> last reconnect),
 * reconnects per second seen by the peers (average, and the most in any one second), the
 * split between B and C, pushes lost and duplicated during the move (both must be 0), and push
 * p99 during the move against before.
 *   knobs: BENCH_MOVE_LINKS (10000) BENCH_MOVE_RATE (A's shedding.movesPerSec, 250: about what
 *   the peers on one loaded 2-core machine absorb; at 1000/s their handshakes timed out)
 *   BENCH_MOVE_PUSH_RATE (1000) BENCH_MOVE_BEFORE_MS (5000) BENCH_MOVE_PORT (9252: A uses
 *   it and +1, B +10/+11, C +20/+21)
 */
const http = require("node:http");
const { Etcd3 } = require("etcd3");
const { CFG, GATEWAY_ENTRY } = require("./lib/config");
const { stopChild, askAll } = require("./lib/procs");
const { httpJson } = require("./lib/http");
const { scrapeMetric } = require("./lib/metrics");
const { int, nowUs, sleep, log, pct, sum, drain } = require("./lib/util");
const { startServer, gatewayEnv, checkNode } = require("./lib/servers");
const {
  startLoadgens,
  closeLoadgens,
  openLinks,
  loadgenCount,
  loadgenStats,
} = require("./lib/loadgens");
const report = require("./lib/report");
const { ms, k } = report;

const M = {
  links: int(process.env.BENCH_MOVE_LINKS, 10000),
  rate: int(process.env.BENCH_MOVE_RATE, 250),
  pushRate: int(process.env.BENCH_MOVE_PUSH_RATE, 1000),
  beforeMs: int(process.env.BENCH_MOVE_BEFORE_MS, 5000),
  port: int(process.env.BENCH_MOVE_PORT, 9252),
};

const ISOLATION = {
  GATEWAY_REDIS_KEY_PREFIX: `gwbench-move-${process.pid}:`,
  GATEWAY_ETCD_PREFIX: `/gateway-bench-move-${process.pid}/nodes/`,
  GATEWAY_PUSH_TOPIC: "bench.gateway.push",
  GATEWAY_PUSH_DLQ_TOPIC: "bench.gateway.push.dlq",
  GATEWAY_PUSH_EVENTS_TOPIC: "bench.gateway.events",
  GATEWAY_PUSH_GROUP_ID: `ws-gateway-bench-move-${process.pid}`,
};
const CONTROL_PREFIX = `/gateway-bench-move-${process.pid}/control/`;

async function startNode(name, offset) {
  const gw = M.port + offset;
  const gov = gw + 1;
  const nodeId = `bench-move-${name}-${process.pid}`;
  const env = {
    ...gatewayEnv("cluster", gw, gov, nodeId, ISOLATION),
    GATEWAY_SHEDDING_MOVES_PER_SEC: String(M.rate),
    // the move measured is the directive's alone: with rebalancing on, the leader starts moving
    // A's links to the empty B and C while they are still being opened
    GATEWAY_REBALANCE_ENABLED: "false",
    GATEWAY_ETCD_LOAD_INTERVAL_MS: "1000",
    // pushes come through the admin API: no Kafka consumer competing for the two cores
    GATEWAY_PUSH_CONSUME: "false",
  };
  const child = await startServer(
    `gateway-move-${name}`,
    GATEWAY_ENTRY,
    env,
    [gw, gov],
    `http://127.0.0.1:${gov}/health/live`,
    checkNode(nodeId, gov),
  );
  return {
    name,
    nodeId,
    child,
    gov,
    wsUrl: `ws://127.0.0.1:${gw}/ws`,
    pushUrl: `http://127.0.0.1:${gov}/api/push`,
  };
}

/**
 * Open-loop unicast pushes at `rate`/s to random users of `users`, what is due every 10 ms in
 * one POST; bodies {t: µs, p: phase}. stop() resolves with how many the API accepted.
 */
function pushStream(node, users, rate, phase) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const st = { accepted: 0, errors: 0, inflight: 0 };
  const t0 = performance.now();
  let offered = 0;
  let stopped = false;
  const idle = [];
  const post = (n) => {
    const batch = [];
    for (let i = 0; i < n; i++) {
      const u = users[Math.floor(Math.random() * users.length)];
      batch.push({
        bizId: CFG.biz,
        to: { users: [`u${u}`] },
        body: { t: nowUs(), p: phase },
      });
    }
    st.inflight++;
    httpJson("POST", node.pushUrl, {
      body: batch,
      agent,
      headers: { Authorization: `Bearer ${CFG.adminToken}` },
      timeoutMs: 15000,
    })
      .then(
        (r) => {
          if (r.status === 202) st.accepted += n;
          else st.errors += n;
        },
        () => (st.errors += n),
      )
      .finally(() => {
        st.inflight--;
        if (st.inflight === 0) for (const f of idle.splice(0)) f();
      });
  };
  const timer = setInterval(() => {
    if (stopped) return;
    const due = Math.floor((rate * (performance.now() - t0)) / 1000) - offered;
    if (due > 0 && st.inflight < 64) {
      post(due);
      offered += due;
    }
  }, 10);
  return {
    st,
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (st.inflight) await new Promise((r) => idle.push(r));
      agent.destroy();
      return st;
    },
  };
}

/** reconnects per second: the average over the span, and the most in any one second */
function rates(hopsUs) {
  const t = [...hopsUs].sort((a, b) => a - b);
  if (t.length < 2) return { avg: NaN, peak: t.length, spanMs: 0 };
  const spanMs = (t[t.length - 1] - t[0]) / 1000;
  let peak = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] > 1e6) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return { avg: ((t.length - 1) * 1000) / spanMs, peak, spanMs };
}

async function runMove() {
  const nodes = [];
  let lgs = [];
  const etcd = new Etcd3({ hosts: "http://127.0.0.1:2379", dialTimeout: 3000 });
  try {
    const [a, b, c] = await Promise.all([
      startNode("a", 0),
      startNode("b", 10),
      startNode("c", 20),
    ]);
    nodes.push(a, b, c);
    lgs = await startLoadgens(CFG.loadgens);
    log(
      `move: opening ${M.links} links on A from ${lgs.length} load generators`,
    );
    const o = await openLinks(lgs, "gateway", a.wsUrl, 16, M.links, 0, 0, true);
    if (!o.ok) throw new Error(`no link connected: ${o.errors.join("; ")}`);
    const users = o.okUsers;
    log(
      `move: ${o.ok} links open in ${o.seconds.toFixed(1)} s; pushes before the move`,
    );

    const before = pushStream(b, users, M.pushRate, "move-before");
    await sleep(M.beforeMs);
    const b1 = await before.stop();
    await drain(
      () => loadgenCount(lgs, "move-before"),
      b1.accepted,
      2000,
      15000,
    );
    const beforeStats = await loadgenStats(lgs, "move-before");

    log(
      `move: shedding A to 0 at ${M.rate}/s with ${M.pushRate} pushes/s running`,
    );
    const during = pushStream(b, users, M.pushRate, "move-during");
    await sleep(500);
    const directive = {
      id: `bench-${Date.now()}`,
      action: "shed",
      reason: "manual",
      targetLinks: 0,
      issuedAt: Date.now(),
      by: "bench",
    };
    const startedUs = nowUs();
    await etcd
      .put(`${CONTROL_PREFIX}directives/${a.nodeId}`)
      .value(JSON.stringify(directive));
    const deadline = Date.now() + (M.links / M.rate) * 1000 * 4 + 30000;
    let moves;
    for (;;) {
      const rs = await askAll(lgs, { cmd: "moves" }, "moves", 10000);
      moves = {
        hops: rs.flatMap((r) => r.hops),
        failed: sum(rs, (r) => r.failed),
        errors: rs.flatMap((r) => r.errors).slice(0, 3),
      };
      if (moves.hops.length + moves.failed >= o.ok || Date.now() > deadline)
        break;
      await sleep(250);
    }
    // a second of pushes after the last move, so "during" covers the whole move
    await sleep(1000);
    const d1 = await during.stop();
    await drain(
      () => loadgenCount(lgs, "move-during"),
      d1.accepted,
      3000,
      20000,
    );
    const duringStats = await loadgenStats(lgs, "move-during");
    const r = rates(moves.hops);
    const lastUs = Math.max(...moves.hops);
    const onB = await scrapeMetric(b.gov, "websocket_gateway_connections");
    const onC = await scrapeMetric(c.gov, "websocket_gateway_connections");
    const onA = await scrapeMetric(a.gov, "websocket_gateway_connections");
    const metricsA = await httpJson("GET", `http://127.0.0.1:${a.gov}/metrics`);
    const mm =
      /^websocket_gateway_link_moves_total\{reason="manual"\} (\S+)$/m.exec(
        metricsA.text,
      );
    const movedMetric = mm ? Number(mm[1]) : NaN;
    const lost = d1.accepted - duringStats.count;
    const head = ["move", "value", "note"];
    const rows = [
      [
        "links on A / moved",
        `${k(o.ok)} / ${k(moves.hops.length)}`,
        `${moves.failed} reconnects failed${moves.errors.length ? ` (${moves.errors.join("; ")})` : ""}; moves metric ${k(movedMetric)}`,
      ],
      ["configured pace", `${k(M.rate)}/s`, "shedding.movesPerSec of A"],
      [
        "time to move",
        `${((lastUs - startedUs) / 1e6).toFixed(2)} s`,
        "directive written -> last reconnect",
      ],
      [
        "reconnects/s seen by the peers",
        `${k(r.avg)}/s`,
        `average over ${(r.spanMs / 1000).toFixed(2)} s; most in one second: ${k(r.peak)}`,
      ],
      [
        "links on A / B / C after",
        `${k(onA)} / ${k(onB)} / ${k(onC)}`,
        "spread by free room",
      ],
      [
        "pushes during the move",
        k(d1.accepted),
        `${k(M.pushRate)}/s to random moved users, ${d1.errors} refused`,
      ],
      ["pushes lost", k(lost), "must be 0"],
      ["pushes duplicated", k(duringStats.dups), "must be 0"],
      [
        "push p99 before / during",
        `${ms(pct(beforeStats.lat, 0.99))} / ${ms(pct(duringStats.lat, 0.99))} ms`,
        `p50 ${ms(pct(beforeStats.lat, 0.5))} / ${ms(pct(duringStats.lat, 0.5))} ms`,
      ],
    ];
    const out = [
      "",
      `### move: ${k(M.links)} links from one node to two others (cluster mode, ${k(M.pushRate)} pushes/s running)`,
      "",
      ...report.mdTable(head, rows),
      "",
    ];
    return out.join("\n");
  } finally {
    await closeLoadgens(lgs).catch(() => undefined);
    await Promise.all(
      nodes.map((n) =>
        stopChild(n.child, "SIGKILL", 2000).catch(() => undefined),
      ),
    );
    await etcd
      .delete()
      .prefix(`/gateway-bench-move-${process.pid}/`)
      .catch(() => undefined);
    etcd.close();
    await require("./kafka-bench")
      .cleanRedis(ISOLATION.GATEWAY_REDIS_KEY_PREFIX)
      .catch(() => 0);
  }
}

module.exports = { runMove };
