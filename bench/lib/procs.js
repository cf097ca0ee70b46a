"use strict";
/**
 * The runner's child processes: every one is tracked and killed when the runner exits (or is
 * interrupted, or passes its deadline); IPC request/reply helpers.
 */
const { fork } = require("node:child_process");

const children = new Set();

function track(child) {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

const exited = (c) => c.exitCode !== null || c.signalCode !== null;

function killAll() {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
}

/** Kills every child on exit, on SIGINT/SIGTERM/SIGHUP, on a crash and after `deadlineMs`. */
function installCleanup(deadlineMs) {
  process.on("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping children\n`);
      killAll();
      process.exit(130);
    });
  }
  process.on("uncaughtException", (err) => {
    process.stderr.write(`bench: ${err.stack || err}\n`);
    killAll();
    process.exit(1);
  });
  setTimeout(() => {
    process.stderr.write(`bench: exceeded ${deadlineMs / 1000} s, giving up\n`);
    killAll();
    process.exit(1);
  }, deadlineMs).unref();
}

/** Resolves with the first IPC message of `child` matching `pred`; rejects on exit or timeout. */
function waitMessage(child, pred, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    if (exited(child))
      return reject(new Error(`${what}: process ${child.pid} is not running`));
    const onMsg = (m) => {
      if (pred(m)) {
        done();
        resolve(m);
      }
    };
    const onExit = (code, sig) => {
      done();
      reject(
        new Error(`${what}: process ${child.pid} exited (${code ?? sig})`),
      );
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${what}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    function done() {
      clearTimeout(timer);
      child.off("message", onMsg);
      child.off("exit", onExit);
    }
    child.on("message", onMsg);
    child.once("exit", onExit);
  });
}

function waitExit(child, timeoutMs) {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function stopChild(child, signal, graceMs) {
  if (!child || exited(child)) return;
  child.stopping = true;
  child.kill(signal);
  if (!(await waitExit(child, graceMs))) {
    child.kill("SIGKILL");
    await waitExit(child, 5000);
  }
}

/**
 * Forks a bench worker (load generator, producer) with a large young generation: fewer
 * scavenges in the clients, whose pauses would otherwise show up as latency of whichever
 * server is measured. Does not wait for it (see waitReady).
 */
function forkWorker(entry, childEnv = process.env) {
  return track(
    fork(entry, [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: [...process.execArgv, "--max-semi-space-size=64"],
      env: childEnv,
    }),
  );
}

/** The worker's {ev: 'ready'} message. */
const waitReady = (child, what) =>
  waitMessage(child, (m) => m && m.ev === "ready", 15000, `${what} start`);

/** Sends `msg`, resolves with the reply `ev` (or throws the worker's error for that cmd). */
async function ask(child, msg, ev, timeoutMs, what) {
  const reply = waitMessage(
    child,
    (m) => m && (m.ev === ev || (m.ev === "error" && m.cmd === msg.cmd)),
    timeoutMs,
    what,
  );
  child.send(msg);
  const r = await reply;
  if (r.ev === "error") throw new Error(`${what}: ${r.message}`);
  return r;
}

/** Sends `msg` to every worker; resolves with their replies `ev` (of the same phase, if any). */
function askAll(workers, msg, ev, timeoutMs, what = `loadgen ${msg.cmd}`) {
  return Promise.all(
    workers.map((c) => {
      const r = waitMessage(
        c,
        (m) =>
          m &&
          m.ev === ev &&
          (msg.phase === undefined || m.phase === msg.phase),
        timeoutMs,
        what,
      );
      c.send(msg);
      return r;
    }),
  );
}

module.exports = {
  children,
  track,
  exited,
  killAll,
  installCleanup,
  waitMessage,
  waitExit,
  stopChild,
  forkWorker,
  waitReady,
  ask,
  askAll,
};
