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

let kafka;
let producer;
let admin;

const send = (m) => process.connected && process.send(m);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

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

async function setup({ brokers, topics, partitions, groupId }) {
  const t0 = Date.now();
  await connect(brokers);
  // offsets a previous run committed (fails while a member is still in the group: harmless,
  // the topics are recreated below anyway)
  await admin.deleteGroups([groupId]).catch(() => undefined);
  const existing = new Set(await admin.listTopics());
  const stale = topics.filter((t) => existing.has(t));
  if (stale.length) {
    await admin.deleteTopics({ topics: stale, timeout: 10000 });
    // deletion is asynchronous on the broker: wait until the names are free
    for (let i = 0; i < 100; i++) {
      const left = new Set(await admin.listTopics());
      if (!stale.some((t) => left.has(t))) break;
      await sleep(100);
    }
  }
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

const { pct } = require("./stats");

async function run(m) {
  const st = { sent: 0, skipped: 0, errors: 0, errorSample: undefined };
  const rtts = [];
  const lag = [];
  let inflight = 0;
  let idle;
  const allAnswered = new Promise((r) => (idle = r));
  let finished = false;
  const users = m.users || [];
  const prefix = `{"bizId":${JSON.stringify(m.biz)},"to":`;
  const roomTo = `{"room":${JSON.stringify(m.room)}}`;
  const t0 = performance.now();
  const firstUs = nowUs();

  // lag sampler: one admin round trip at a time, every 500 ms, until the run ends
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        lag.push([
          Math.round(performance.now() - t0),
          await lagOf(m.topic, m.groupId),
        ]);
      } catch {
        /* a missed sample */
      }
      await sleep(500);
    }
  })();

  const sendBatch = (n) => {
    const t = nowUs();
    const body = `{"t":${t},"p":${m.phase}}`;
    const messages = new Array(n);
    for (let i = 0; i < n; i++) {
      if (m.kind === "room")
        messages[i] = {
          key: m.room,
          value: `${prefix}${roomTo},"body":${body}}`,
        };
      else {
        const u = `u${users[(Math.random() * users.length) | 0]}`;
        messages[i] = {
          key: u,
          value: `${prefix}{"users":["${u}"]},"body":${body}}`,
        };
      }
    }
    inflight++;
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
        inflight--;
        if (finished && inflight === 0) idle();
      });
  };

  let accounted = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Math.min(m.durationMs, performance.now() - t0);
      const due = Math.floor((m.rate * elapsed) / 1000) - accounted;
      if (due > 0) {
        if (inflight >= m.maxInflight) st.skipped += due;
        else sendBatch(due);
        accounted += due;
      }
      if (elapsed >= m.durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, m.tickMs);
  });
  const endUs = nowUs();
  finished = true;
  if (inflight > 0) await Promise.race([allAnswered, sleep(15000)]);
  sampling = false;
  await sampler;
  try {
    lag.push([
      Math.round(performance.now() - t0),
      await lagOf(m.topic, m.groupId),
    ]);
  } catch {
    /* no final sample */
  }
  rtts.sort((a, b) => a - b);
  return {
    phase: m.phase,
    ...st,
    offered: accounted,
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
