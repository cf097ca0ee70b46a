"use strict";
/**
 * The uplink-backend scenario's helpers: the example gRPC backend (examples/backend, built to
 * dist/examples/backend/backend.js) as a process of its own, and a one-request probe of a target
 * (which backend answered its req?).
 */
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const jwt = require("jsonwebtoken");
const WebSocket = require("ws");
const { CFG, ROOT, RESULTS } = require("./config");
const { exited, stopChild } = require("./procs");

const BACKEND_ENTRY = path.join(ROOT, "dist/examples/backend/backend.js");

/** Resolves with the backend's ready line ({addr, instance, bizIds}); rejects on exit or timeout. */
function readyLine(child, tail, timeoutMs) {
  return new Promise((resolve, reject) => {
    const fail = (why) =>
      reject(new Error(`example backend ${why}:\n${tail.join("\n")}`));
    const timer = setTimeout(
      () => fail(`not ready in ${timeoutMs} ms`),
      timeoutMs,
    );
    child.once("exit", (c, s) => fail(`exited with ${c ?? s}`));
    child.stdout.on("data", () => {
      const line = tail.find((l) => l.includes('"msg":"backend ready"'));
      if (!line) return;
      clearTimeout(timer);
      resolve(JSON.parse(line));
    });
  });
}

/**
 * Starts the example backend for `biz` without etcd (the gateway gets its address statically).
 * Not one of the bench's tracked children: its CPU is reported on its own (cpuMeter depPids),
 * not among the clients'. Killed when the runner exits.
 */
async function startExampleBackend(biz) {
  if (!fs.existsSync(BACKEND_ENTRY))
    throw new Error(`${BACKEND_ENTRY} not found: run \`npm run build\``);
  const args = [
    "--biz",
    biz,
    "--no-etcd",
    "--instance",
    `bench-${process.pid}`,
  ];
  const child = spawn(process.execPath, [BACKEND_ENTRY, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  child.once("exit", () => process.off("exit", kill));
  const out = fs.createWriteStream(path.join(RESULTS, "example-backend.log"));
  const tail = [];
  const keep = (chunk) => {
    out.write(chunk);
    tail.push(...chunk.toString().split("\n").filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 30));
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.once("exit", () => out.end());
  const ready = await readyLine(child, tail, 15000).catch((err) => {
    kill();
    throw err;
  });
  return { child, addr: ready.addr, instance: ready.instance };
}

async function stopExampleBackend(b) {
  if (b && !exited(b.child)) await stopChild(b.child, "SIGTERM", 10000);
}

/** The upgrade URL and headers of one link to target `t` (a JWT for a gateway, ?user= for raw). */
function probeRequest(t, user) {
  if (t.kind === "raw") return { url: `${t.wsUrl}?user=${user}`, headers: {} };
  const token = jwt.sign({ sub: user, biz: CFG.biz }, CFG.jwtSecret, {
    algorithm: "HS256",
    expiresIn: 300,
  });
  return { url: t.wsUrl, headers: { Authorization: `Bearer ${token}` } };
}

/** One link to `t`, one req with `body`: resolves with its ack frame (rejects after 5 s). */
function probeAck(t, body) {
  const { url, headers } = probeRequest(t, "bench-probe");
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    const done = (err, ack) => {
      clearTimeout(timer);
      ws.terminate();
      if (err) reject(err);
      else resolve(ack);
    };
    const timer = setTimeout(() => done(new Error("no ack in 5 s")), 5000);
    ws.on("error", (err) => done(err));
    ws.on("message", (data) => {
      const f = JSON.parse(data.toString());
      if (f.type === "connected")
        ws.send(JSON.stringify({ type: "req", id: "probe-1", body }));
      else if (f.type === "ack" && f.id === "probe-1") done(null, f);
    });
  });
}

/** Did the example backend answer? Its echo reply carries "instance"; the gateway's built-in echo does not. */
const fromBackend = (ack) =>
  ack.code === 0 && typeof ack.body?.instance === "string";

module.exports = {
  BACKEND_ENTRY,
  startExampleBackend,
  stopExampleBackend,
  probeAck,
  fromBackend,
};
