import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaConnection } from '../../src/infra/kafka/kafka.connection';
import { KafkaPushSource } from '../../src/infra/kafka/kafka-push.source';
import { GatewayMetrics } from '../../src/metrics/gateway.metrics';
import type { DeadLetter, RawRecord } from '../../src/push/push-source';

// Against the real Kafka broker that scripts/deps.sh runs (or GATEWAY_KAFKA_BROKERS).
const brokers = (process.env.GATEWAY_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

describe('kafka push source (real Kafka)', () => {
  const run = randomUUID().slice(0, 8);
  const topic = `it-push-${run}`;
  const dlqTopic = `${topic}.dlq`;
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const metrics = new GatewayMetrics();
  const sources: KafkaPushSource[] = [];
  const source = () => {
    const s = new KafkaPushSource(
      new KafkaConnection(brokers, 'it'),
      { topic, groupId: `it-${run}`, dlqTopic, extraTopics: [], partitions: 2, startFrom: 'earliest', partitionConcurrency: 2, consumers: 2 },
      metrics,
    );
    sources.push(s);
    return s;
  };

  before(async () => {
    await producer.connect();
  });
  after(async () => {
    for (const s of sources) await s.stop();
    await producer.disconnect();
    metrics.close();
  });

  it('writes dead letters with the reason header, commits, and redelivers a batch whose handler failed', async () => {
    let failOnce = true;
    const handled: string[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const first = source();
    await first.start(async (records: RawRecord[]): Promise<DeadLetter[]> => {
      if (failOnce) {
        failOnce = false;
        throw new Error('store unavailable');
      }
      const dead: DeadLetter[] = [];
      for (const r of records) {
        if (r.value?.toString() === 'bad') dead.push({ record: r, reason: 'malformed', detail: 'test' });
        else handled.push(r.value!.toString());
      }
      if (handled.includes('good-2')) done();
      return dead;
    });
    await producer.send({
      topic,
      messages: [
        { key: 'k', value: 'good-1' },
        { key: 'k', value: 'bad', headers: { 'content-type': 'application/json' } },
        { key: 'k', value: 'good-2' },
      ],
    });
    await finished;
    assert.deepEqual(handled, ['good-1', 'good-2'], 'the failed batch came again, in order, once handled');

    const consumer = kafka.consumer({ groupId: `it-dlq-${run}` });
    await consumer.connect();
    await consumer.subscribe({ topic: dlqTopic, fromBeginning: true });
    const letter = await new Promise<{ value: string; headers: Record<string, string> }>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) =>
          resolve({ value: String(message.value), headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])) }),
      });
    });
    await consumer.disconnect();
    assert.equal(letter.value, 'bad');
    assert.equal(letter.headers['x-dlq-reason'], 'malformed');
    assert.equal(letter.headers['content-type'], 'application/json');

    // offsets were committed: a new member of the group starts after what was handled
    await first.stop();
    const seen: string[] = [];
    let gotNext!: () => void;
    const next = new Promise<void>((r) => (gotNext = r));
    await source().start(async (records) => {
      seen.push(...records.map((r) => r.value!.toString()));
      if (seen.includes('good-3')) gotNext();
      return [];
    });
    await producer.send({ topic, messages: [{ key: 'k', value: 'good-3' }] });
    await next;
    assert.deepEqual(seen, ['good-3']);
  });
});
