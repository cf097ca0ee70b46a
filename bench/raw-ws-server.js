"use strict";
/**
 * The baseline: a plain `ws` server doing the least a gateway must do, for `make bench` to
 * compare the gateway against. noServer behind a node http server on 127.0.0.1:RAW_PORT (9102):
 *   GET  /ws?user=<id>   WebSocket upgrade; sends {"type":"connected","sid","node","heartbeatMs"}
 *                        and keeps the socket in a Map by sid and by user
 *   POST /push           one {user|sid, body} or an array of them; each target gets
 *                        {"type":"push","mid","body"}; answers 202 {results: [{mid, routed}]}
 *   POST /fanout         {n, body}: n pushes {"type":"push","mid","body","room":"all"} to every
 *                        link, the fan-out ceiling: each frame is JSON-encoded and framed once
 *                        (WebSocket.Sender.frame, unmasked) and the n frames are written to each
 *                        socket in one corked batch; a socket with more than 1 MiB unwritten
 *                        is skipped (the gateway closes such a link as slow). Answers 202
 *                        {links, frames, skipped}
 *   GET  /rss            {rss, heapUsed, links} of this process
 *   GET  /health         {status: "ok", links}
 *   RAW_UPLINK=1         each client frame {"type":"req","id","body"} is answered on its link by
 *                        {"type":"ack","id","code":0,"body"} (parse, build the ack, send): the
 *                        floor of the gateway's req -> backend -> ack path (its echo backend
 *                        answers the same). Off by default, so the other scenarios' links carry
 *                        no message listener.
 * No auth, no heartbeat, no metrics: the floor a gateway's cost is measured against.
 */
const http = require("node:http");
const { randomUUID } = require("node:crypto");
const { WebSocketServer, Sender } = require("ws");

const host = process.env.RAW_HOST || "127.0.0.1";
const port = Number(process.env.RAW_PORT || 9102);
const MAX_BODY = 1024 * 1024;
const UPLINK = process.env.RAW_UPLINK === "1";

const bySid = new Map();
const byUser = new Map();
let seq = 0;

const wss = new WebSocketServer({
  noServer: true,
  clientTracking: false,
  perMessageDeflate: false,
  maxPayload: 512 * 1024,
});

function json(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

function push(item) {
  const mid = randomUUID();
  const ws =
    item &&
    (item.sid !== undefined
      ? bySid.get(item.sid)
      : byUser.get(String(item.user)));
  if (!ws || ws.readyState !== ws.OPEN) return { mid, routed: 0 };
  ws.send(JSON.stringify({ type: "push", mid, body: item.body }), {
    binary: false,
    compress: false,
  });
  return { mid, routed: 1 };
}

/** RAW_UPLINK=1, a link's message listener (`this` is the link): req -> ack of the same id */
function onUplinkFrame(data) {
  let f;
  try {
    f = JSON.parse(data.toString());
  } catch {
    return;
  }
  if (!f || f.type !== "req") return;
  this.send(JSON.stringify({ type: "ack", id: f.id, code: 0, body: f.body }), {
    binary: false,
    compress: false,
  });
}

const MAX_BACKLOG = 1024 * 1024;

/** n pushes to every link: framed once, written per socket in one corked batch */
function fanout(req) {
  const n = Math.max(1, Math.min(1000, Number(req.n) || 1));
  const body = JSON.stringify(req.body ?? null);
  const frames = [];
  for (let i = 0; i < n; i++) {
    const data = Buffer.from(
      `{"type":"push","mid":"${randomUUID()}","body":${body},"room":"all"}`,
    );
    frames.push(
      Buffer.concat(
        Sender.frame(data, {
          fin: true,
          opcode: 1,
          mask: false,
          readOnly: true,
          rsv1: false,
        }),
      ),
    );
  }
  let links = 0;
  let skipped = 0;
  for (const ws of bySid.values()) {
    const socket = ws._socket;
    if (ws.readyState !== ws.OPEN || !socket) continue;
    if (socket.writableLength > MAX_BACKLOG) {
      skipped++;
      continue;
    }
    socket.cork();
    for (const f of frames) socket.write(f);
    socket.uncork();
    links++;
  }
  return { links, frames: links * n, skipped };
}

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/rss") {
    const m = process.memoryUsage();
    return json(res, 200, {
      rss: m.rss,
      heapUsed: m.heapUsed,
      links: bySid.size,
    });
  }
  if (req.method === "GET" && req.url === "/health")
    return json(res, 200, { status: "ok", links: bySid.size });
  if (req.method === "POST" && (req.url === "/push" || req.url === "/fanout")) {
    const isFanout = req.url === "/fanout";
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on("end", () => {
      let parsed;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return json(res, 400, {
          error: "bad_request",
          message: "body is not JSON",
        });
      }
      if (isFanout) return json(res, 202, fanout(parsed || {}));
      const items = Array.isArray(parsed) ? parsed : [parsed];
      json(res, 202, { results: items.map(push) });
    });
    return undefined;
  }
  return json(res, 404, { error: "not_found" });
});

server.on("upgrade", (req, socket, head) => {
  socket.on("error", () => undefined);
  const url = new URL(req.url || "/", "http://raw");
  if (url.pathname !== "/ws") {
    socket.end(
      "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    );
    return;
  }
  const user = url.searchParams.get("user") || `anon-${seq}`;
  wss.handleUpgrade(req, socket, head, (ws) => {
    const sid = `raw-${(++seq).toString(36)}`;
    bySid.set(sid, ws);
    byUser.set(user, ws);
    ws.on("error", () => undefined);
    if (UPLINK) ws.on("message", onUplinkFrame);
    ws.once("close", () => {
      bySid.delete(sid);
      if (byUser.get(user) === ws) byUser.delete(user);
    });
    ws.send(
      JSON.stringify({ type: "connected", sid, node: "raw", heartbeatMs: 0 }),
    );
  });
});

server.listen(port, host, () => {
  process.stdout.write(`raw ws server on ws://${host}:${port}/ws\n`);
  if (typeof process.send === "function") process.send({ ready: true, port });
});

const stop = () => {
  for (const ws of bySid.values()) ws.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
