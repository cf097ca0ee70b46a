import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { GatewayEvent } from '../../src/events/event.sink';
import { KafkaConnection } from '../../src/infra/kafka/kafka.connection';
import { KafkaEventSink, KafkaEventSinkOptions } from '../../src/infra/kafka/kafka-event.sink';
import { GatewayMetrics } from '../../src/metrics/gateway.metrics';

// Against the real Kafka broker that scripts/deps.sh runs (or GATEWAY_KAFKA_BROKERS).
const brokers = (process.env.GATEWAY_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

describe('kafka event sink (real Kafka): one bad event never costs the others', () => {
  const run = randomUUID().slice(0, 8);
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const topics: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    await admin.connect();
  });
  after(async () => {
    for (const c of cleanups) await c().catch(() => undefined);
    if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });

  /** a topic of this run with one partition (so what it holds is in produce order), optionally with a lower max.message.bytes */
  async function topic(maxMessageBytes?: number): Promise<string> {
    const name = `it-events-${run}-${topics.length}`;
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: name, numPartitions: 1, configEntries: maxMessageBytes ? [{ name: 'max.message.bytes', value: String(maxMessageBytes) }] : [] }],
    });
    topics.push(name);
    return name;
  }

  function sink(name: string, options?: KafkaEventSinkOptions): { sink: KafkaEventSink; metrics: GatewayMetrics } {
    const metrics = new GatewayMetrics();
    cleanups.push(async () => metrics.close());
    return { sink: new KafkaEventSink(new KafkaConnection(brokers, `it-${run}`), name, metrics, options), metrics };
  }

  /** everything the topic holds, in order (its end offset says how much that is, so nothing is waited for beyond it) */
  async function contents(name: string): Promise<GatewayEvent[]> {
    const [{ high }] = await admin.fetchTopicOffsets(name);
    const total = Number(high);
    const seen: GatewayEvent[] = [];
    if (total === 0) return seen;
    const consumer = kafka.consumer({ groupId: `it-events-${run}-${name}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: name, fromBeginning: true });
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            seen.push(JSON.parse(String(message.value)) as GatewayEvent);
            if (seen.length === total) resolve();
          },
        });
      });
    } finally {
      await consumer.disconnect();
    }
    return seen;
  }

  const dropped = async (metrics: GatewayMetrics, reason: string) =>
    (await metrics.eventsDropped.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

  /** ten users' connected / delivered / disconnected, with mallory's acks of `badBytes` mids in the middle of them */
  function traffic(badBytes: number): { all: GatewayEvent[]; good: GatewayEvent[] } {
    const node = 'it-node';
    const good: GatewayEvent[] = [];
    const bad: GatewayEvent[] = [1, 2].map((n) => ({
      type: 'delivered',
      bizId: 'b',
      userId: 'mallory',
      sid: `s-mallory-${n}`,
      mid: 'x'.repeat(badBytes),
      node,
      ts: Date.now(),
    }));
    for (let i = 0; i < 10; i++) {
      const base = { bizId: 'b', userId: `u${i}`, sid: `s${i}`, node, ts: Date.now() };
      good.push({ ...base, type: 'connected' }, { ...base, type: 'delivered', mid: `m${i}` }, { ...base, type: 'disconnected', code: 1000 });
    }
    const all = [...good.slice(0, 12), bad[0], ...good.slice(12, 20), bad[1], ...good.slice(20)];
    return { all, good };
  }

  it('refuses events over the size bound at emit and delivers every other user event of the batch, in order', async () => {
    const name = await topic();
    const { sink: events, metrics } = sink(name);
    // two mids of 600 KB: together over the broker's 1 MiB, which used to refuse the whole batch
    const { all, good } = traffic(600 * 1024);
    for (const e of all) events.emit(e);
    await events.close();
    assert.deepEqual(await contents(name), good);
    assert.equal(await dropped(metrics, 'too_large'), 2);
    assert.equal((await metrics.eventsPublished.get()).values[0].value, good.length);
  });

  it('when the broker refuses a batch for its size, retries it in halves so only the events it cannot take are dropped', async () => {
    // the broker's own bound below the sink's: 40 KB events pass the sink and are refused by the topic (16 KiB)
    const name = await topic(16 * 1024);
    const { sink: events, metrics } = sink(name, { maxEventBytes: 1024 * 1024 });
    const { all, good } = traffic(40 * 1024);
    for (const e of all) events.emit(e);
    await events.close();
    assert.deepEqual(await contents(name), good);
    assert.equal(await dropped(metrics, 'too_large'), 2);
    assert.equal(await dropped(metrics, 'produce_failed'), 0);
  });
});
