"use strict";
/**
 * The ceiling of the uplink through a backend (`make bench`, BENCH_ONLY value `uplink-backend`):
 * a plain `ws` server doing the least a gateway must do to pass a client's request to a gRPC
 * backend and its reply back. One grpc-js client (one channel) to FWD_BACKEND (host:port of the
 * example backend, examples/backend); node http server on 127.0.0.1:FWD_PORT (9124):
 *   GET /ws?user=<id>   WebSocket upgrade; sends {"type":"connected","sid","node","heartbeatMs"};
 *                       each frame {"type":"req","id","body"} becomes a Request
 *                       {session: {sid, bizId: FWD_BIZ, userId, node}, id, body: JSON bytes}
 *                       (5 s deadline), its reply {"type":"ack","id","code","body"} (the reply's
 *                       body parsed as JSON; past the deadline 504, another gRPC error 503, a body
 *                       that is not JSON 502)
 *   GET /health         {status: "ok", links}
 * No auth, no heartbeat, no metrics, no retries, no channelz: the floor a gateway's cost is
 * measured against.
 */
const http = require("node:http");
const path = require("node:path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const { WebSocketServer } = require("ws");

const host = process.env.FWD_HOST || "127.0.0.1";
const port = Number(process.env.FWD_PORT || 9124);
const backend = process.env.FWD_BACKEND || "127.0.0.1:50051";
const biz = process.env.FWD_BIZ || "bench";
const DEADLINE_MS = 5000;
const PROTO = path.join(__dirname, "../proto/gateway/v1/backend.proto");

function backendClient() {
  const def = protoLoader.loadSync(PROTO, { keepCase: false, defaults: true });
  const { GatewayBackend } = grpc.loadPackageDefinition(def).gateway.v1;
  // channelz (grpc-js's per-call introspection) is bookkeeping a forwarder does not need
  return new GatewayBackend(backend, grpc.credentials.createInsecure(), {
    "grpc.enable_channelz": 0,
  });
}

const client = backendClient();
const wss = new WebSocketServer({
  noServer: true,
  clientTracking: false,
  perMessageDeflate: false,
  maxPayload: 512 * 1024,
});
let links = 0;
let seq = 0;

const seenErrors = new Set();

/** the first gRPC error of each status, on stderr (the bench keeps it in results/) */
function noteError(err) {
  if (seenErrors.has(err.code)) return;
  seenErrors.add(err.code);
  process.stderr.write(`gRPC error ${err.code}: ${err.message}\n`);
}

/** the ack of one reply: its body parsed back from JSON bytes (empty = no body) */
function ackOf(id, err, reply) {
  if (err) {
    noteError(err);
    const code = err.code === grpc.status.DEADLINE_EXCEEDED ? 504 : 503;
    return { type: "ack", id, code, msg: err.details };
  }
  if (!reply.body.length) return { type: "ack", id, code: reply.code };
  try {
    const body = JSON.parse(reply.body.toString("utf8"));
    return { type: "ack", id, code: reply.code, body };
  } catch {
    return { type: "ack", id, code: 502, msg: "backend body is not JSON" };
  }
}

/** a link's message listener: req -> Request -> ack of the same id */
function onFrame(ws, session, data) {
  let f;
  try {
    f = JSON.parse(data.toString());
  } catch {
    return;
  }
  if (!f || f.type !== "req") return;
  const req = { session, id: f.id, body: Buffer.from(JSON.stringify(f.body)) };
  const deadline = Date.now() + DEADLINE_MS;
  client.Request(req, { deadline }, (err, reply) => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(JSON.stringify(ackOf(f.id, err, reply)), { compress: false });
  });
}

function onLink(ws, user) {
  const sid = `fwd-${(++seq).toString(36)}`;
  const session = { sid, bizId: biz, userId: user, node: "raw-grpc-forwarder" };
  links++;
  ws.on("error", () => undefined);
  ws.on("message", (data) => onFrame(ws, session, data));
  ws.once("close", () => links--);
  ws.send(
    JSON.stringify({ type: "connected", sid, node: "fwd", heartbeatMs: 0 }),
  );
}

const server = http.createServer((req, res) => {
  const ok = req.method === "GET" && req.url === "/health";
  const body = JSON.stringify(
    ok ? { status: "ok", links } : { error: "not_found" },
  );
  res.writeHead(ok ? 200 : 404, { "Content-Type": "application/json" });
  res.end(body);
});

server.on("upgrade", (req, socket, head) => {
  socket.on("error", () => undefined);
  const url = new URL(req.url || "/", "http://fwd");
  if (url.pathname !== "/ws") {
    socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  const user = url.searchParams.get("user") || `anon-${seq}`;
  wss.handleUpgrade(req, socket, head, (ws) => onLink(ws, user));
});

server.listen(port, host, () => {
  process.stdout.write(
    `raw gRPC forwarder on ws://${host}:${port}/ws -> ${backend}\n`,
  );
  if (typeof process.send === "function") process.send({ ready: true, port });
});

const stop = () => {
  client.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
