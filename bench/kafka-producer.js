"use strict";
/**
 * The backend of the bench's Kafka scenarios (forked by bench/kafka-bench.js): one kafkajs
 * producer and admin client in a process of their own, driven over IPC:
 *
 *   {cmd: 'setup', brokers, topics, partitions}
 *       deletes the bench topics if a previous run left them (fresh offsets, no stale records),
 *       then creates them with `partitions` partitions and a short retention;
 *       -> {ev: 'setup', ms}
 *   {cmd: 'run', phase, kind: 'users'|'room', rate, durationMs, tickMs, maxInflight, users?, room?, biz, topic, groupId}
 *       every tick one producer.send (acks=1, no compression) with the envelopes due at `rate`/s,
 *       keyed by the target user (or the room): {bizId, to: {users: [u]} | {room}, body: {t, p}},
 *       t = µs of CLOCK_MONOTONIC at the send (the clients' clock too). A tick is skipped (and
 *       counted) while `maxInflight` sends are unanswered. Meanwhile the consumer group's lag
 *       (end offsets minus committed) is sampled every 500 ms.
 *       -> {ev: 'ran', phase, sent, skipped, errors, errorSample, sendMs: [p50, p99], lag: [[ms, records]...], firstUs, endUs}
 *   {cmd: 'lag', topic, groupId} -> {ev: 'lag', lag}
 *   {cmd: 'teardown', topics, groupId} deletes them (best effort) -> {ev: 'teardown'}
 * Exits when the runner goes away.
 */
const { Kafka, logLevel, CompressionTypes, Partitioners } = require("kafkajs");

const { sleep, nowUs, pct, pace } = require("./lib/util");

let kafka;
let producer;
let admin;

const send = (m) => process.connected && process.send(m);

async function connect(brokers) {
  if (kafka) return;
  kafka = new Kafka({
    clientId: "ws-gateway-bench-producer",
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  admin = kafka.admin();
  await Promise.all([producer.connect(), admin.connect()]);
}

/** Deletes the topics a previous run left and waits until the broker has let go of the names. */
async function deleteStale(topics) {
  const existing = new Set(await admin.listTopics());
  const stale = topics.filter((t) => existing.has(t));
  if (!stale.length) return;
  await admin.deleteTopics({ topics: stale, timeout: 10000 });
  // deletion is asynchronous on the broker: wait until the names are free
  for (let i = 0; i < 100; i++) {
    const left = new Set(await admin.listTopics());
    if (!stale.some((t) => left.has(t))) break;
    await sleep(100);
  }
}

/** Creates the missing topics, retrying while the broker still deletes them; the last error. */
async function createTopics(topics, partitions) {
  let lastErr;
  for (let i = 0; i < 50; i++) {
    try {
      const left = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !left.has(t));
      if (!missing.length) break;
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: partitions,
          replicationFactor: 1,
          // a bench run writes a few hundred MB at most: keep it for minutes, not a day
          configEntries: [
            { name: "retention.ms", value: "600000" },
            { name: "segment.bytes", value: String(64 * 1024 * 1024) },
          ],
        })),
      });
    } catch (err) {
      lastErr = err; // "marked for deletion" right after a delete: try again
      await sleep(200);
    }
  }
  return lastErr;
}

async function setup({ brokers, topics, partitions, groupId }) {
  const t0 = Date.now();
  await connect(brokers);
  // offsets a previous run committed (fails while a member is still in the group: harmless,
  // the topics are recreated below anyway)
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await deleteStale(topics);
  const lastErr = await createTopics(topics, partitions);
  const meta = await admin.fetchTopicMetadata({ topics });
  for (const t of meta.topics)
    if (t.partitions.length !== partitions)
      throw new Error(
        `topic ${t.name} has ${t.partitions.length} partitions, wanted ${partitions}${lastErr ? ` (${lastErr.message})` : ""}`,
      );
  return { ms: Date.now() - t0 };
}

async function lagOf(topic, groupId) {
  const [ends, committed] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  const byPart = new Map();
  for (const p of committed[0]?.partitions ?? [])
    byPart.set(p.partition, Number(p.offset));
  let lag = 0;
  for (const p of ends) {
    const c = byPart.get(p.partition);
    const from = c === undefined || c < 0 ? Number(p.low) : c;
    lag += Math.max(0, Number(p.high) - from);
  }
  return lag;
}

/** Appends [ms since t0, lag] to `lag` every 500 ms, one admin round trip at a time, until stop(). */
function lagSampler(m, t0, lag) {
  let sampling = true;
  const sample = async () => {
    try {
      lag.push([
        Math.round(performance.now() - t0),
        await lagOf(m.topic, m.groupId),
      ]);
    } catch {
      /* a missed sample */
    }
  };
  const done = (async () => {
    while (sampling) {
      await sample();
      await sleep(500);
    }
  })();
  return async () => {
    sampling = false;
    await done;
    await sample(); // the final sample
  };
}

/** The `n` messages of one send: envelopes to random users of m.users, or to the room. */
function batchMessages(m, n) {
  const prefix = `{"bizId":${JSON.stringify(m.biz)},"to":`;
  const body = `{"t":${nowUs()},"p":${m.phase}}`;
  const messages = new Array(n);
  const users = m.users || [];
  for (let i = 0; i < n; i++) {
    if (m.kind === "room")
      messages[i] = {
        key: m.room,
        value: `${prefix}{"room":${JSON.stringify(m.room)}},"body":${body}}`,
      };
    else {
      const u = `u${users[(Math.random() * users.length) | 0]}`;
      messages[i] = {
        key: u,
        value: `${prefix}{"users":["${u}"]},"body":${body}}`,
      };
    }
  }
  return messages;
}

/** One producer.send of the batch, counted in `st`; its round trip into `rtts`. */
function sendBatch(m, n, st, rtts, flow) {
  const messages = batchMessages(m, n);
  flow.inflight++;
  const at = performance.now();
  producer
    .send({
      topic: m.topic,
      acks: 1,
      compression: CompressionTypes.None,
      messages,
    })
    .then(() => {
      st.sent += n;
      rtts.push(performance.now() - at);
    })
    .catch((err) => {
      st.errors++;
      st.errorSample ??= err.message;
    })
    .finally(() => {
      flow.inflight--;
      if (flow.finished && flow.inflight === 0) flow.idle();
    });
}

async function run(m) {
  const st = { sent: 0, skipped: 0, errors: 0, errorSample: undefined };
  const rtts = [];
  const lag = [];
  const flow = { inflight: 0, finished: false };
  const allAnswered = new Promise((r) => (flow.idle = r));
  const t0 = performance.now();
  const firstUs = nowUs();
  const stopSampler = lagSampler(m, t0, lag);
  const offered = await pace(m.rate, m.durationMs, m.tickMs, (due) => {
    if (flow.inflight >= m.maxInflight) st.skipped += due;
    else sendBatch(m, due, st, rtts, flow);
  });
  const endUs = nowUs();
  flow.finished = true;
  if (flow.inflight > 0) await Promise.race([allAnswered, sleep(15000)]);
  await stopSampler();
  rtts.sort((a, b) => a - b);
  return {
    phase: m.phase,
    ...st,
    offered,
    sendMs: [pct(rtts, 0.5), pct(rtts, 0.99)],
    lag,
    firstUs,
    endUs,
  };
}

async function teardown({ topics, groupId }) {
  if (!admin) return;
  await admin.deleteGroups([groupId]).catch(() => undefined);
  await admin.deleteTopics({ topics, timeout: 10000 }).catch(() => undefined);
}

process.on("message", (m) => {
  if (!m || typeof m.cmd !== "string") return;
  const reply = (ev, p) =>
    p.then(
      (r) => send({ ev, ...r }),
      (err) =>
        send({ ev: "error", cmd: m.cmd, message: err.stack || String(err) }),
    );
  switch (m.cmd) {
    case "setup":
      reply("setup", setup(m));
      break;
    case "run":
      reply("ran", run(m));
      break;
    case "lag":
      reply(
        "lag",
        lagOf(m.topic, m.groupId).then((lag) => ({ lag })),
      );
      break;
    case "teardown":
      reply(
        "teardown",
        teardown(m).then(() => ({})),
      );
      break;
    default:
      break;
  }
});

process.once("disconnect", () => {
  Promise.race([
    Promise.allSettled([producer?.disconnect(), admin?.disconnect()]),
    sleep(2000),
  ]).then(() => process.exit(0));
});
send({ ev: "ready", pid: process.pid });
