import type { Consumer, IHeaders, Producer } from 'kafkajs';
import { logger } from '../../common/logger';
import { GatewayMetrics } from '../../metrics/gateway.metrics';
import { BatchHandler, PushSource, RawRecord } from '../../push/push-source';
import { KafkaConnection } from './kafka.connection';

const log = logger('kafka-push');

export interface KafkaPushOptions {
  topic: string;
  groupId: string;
  dlqTopic: string;
  /** also created at start (gateway.events) */
  extraTopics: string[];
  /** partitions of topics the gateway creates */
  partitions: number;
  startFrom: 'earliest' | 'latest';
  /** partitions handled at the same time, per consumer */
  partitionConcurrency: number;
  /** group members this process runs (each fetches on its own) */
  consumers: number;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * kafkajs consumers (push.consumers of them) on gateway.push in the shared group. Per batch:
 * handler -> dead letters produced (acks=all) -> offsets resolved, then committed within a
 * second. Nothing is committed for a batch that failed, so a node dying mid-batch leaves its
 * records to the group's next owner of the partition.
 */
export class KafkaPushSource extends PushSource {
  private readonly consumers: Consumer[] = [];
  private producer?: Producer;

  constructor(
    private readonly kafka: KafkaConnection,
    private readonly options: KafkaPushOptions,
    private readonly metrics: GatewayMetrics,
  ) {
    super();
  }

  async start(handler: BatchHandler): Promise<void> {
    const { topic, groupId, dlqTopic } = this.options;
    await this.kafka.ensureTopics([topic, dlqTopic, ...this.options.extraTopics], this.options.partitions);
    const producer = this.kafka.client.producer({ allowAutoTopicCreation: true, idempotent: false });
    this.producer = producer;
    await producer.connect();
    // kafkajs fetches from a broker, hands the batches to eachBatch, and fetches again only once
    // they are all handled: one member alone leaves the CPU idle during every fetch. Several
    // members per process overlap one's fetch with another's handling; each partition still has
    // one owner, so one key's records stay in order.
    const assigned = new Array<number>(this.options.consumers).fill(0);
    for (let i = 0; i < this.options.consumers; i++) {
      const consumer = this.createConsumer((n) => {
        assigned[i] = n;
        this.metrics.kafkaAssigned.set(assigned.reduce((a, b) => a + b, 0));
      });
      this.consumers.push(consumer);
    }
    await Promise.all(this.consumers.map((c) => this.run(c, handler, producer)));
    log.info({ topic, groupId, consumers: this.options.consumers }, 'consuming pushes');
  }

  private createConsumer(onAssigned: (partitions: number) => void): Consumer {
    const { topic, groupId } = this.options;
    // a short fetch wait keeps disconnect (drain) fast; an idle partition costs a few fetches a second
    const consumer = this.kafka.client.consumer({
      groupId,
      sessionTimeout: 10000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: true,
      maxBytesPerPartition: 256 * 1024,
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      const partitions = e.payload.memberAssignment[topic] ?? [];
      onAssigned(partitions.length);
      log.info({ topic, groupId, partitions }, 'joined the push consumer group');
    });
    consumer.on(consumer.events.CRASH, (e) => log.error({ err: e.payload.error.message, restart: e.payload.restart }, 'push consumer crashed'));
    return consumer;
  }

  private async run(consumer: Consumer, handler: BatchHandler, producer: Producer): Promise<void> {
    const { topic, dlqTopic } = this.options;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: this.options.startFrom === 'earliest' });
    await consumer.run({
      // only resolved offsets are committed, and an offset is resolved only once its batch was
      // handled and its dead letters written; committing them every interval (and on a
      // rebalance or stop) instead of per batch saves a broker round trip on every batch
      autoCommit: true,
      autoCommitInterval: 1000,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionConcurrency,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset, commitOffsetsIfNecessary }) => {
        if (!isRunning() || isStale() || batch.messages.length === 0) return;
        const records: RawRecord[] = batch.messages.map((m) => ({
          key: m.key?.toString(),
          value: m.value,
          headers: m.headers ? lowerHeaders(m.headers) : NO_HEADERS,
          ref: `${batch.topic}-${batch.partition}-${m.offset}`,
        }));
        const dead = await handler(records);
        if (dead.length) {
          await producer.send({
            topic: dlqTopic,
            acks: -1,
            messages: dead.map((d) => ({
              key: d.record.key,
              value: d.record.value,
              headers: { ...d.record.headers, 'x-dlq-reason': d.reason, 'x-dlq-detail': d.detail.slice(0, 500), 'x-dlq-source': d.record.ref },
            })),
          });
          for (const d of dead) this.metrics.deadLetters.inc({ reason: d.reason });
        }
        const last = batch.messages[batch.messages.length - 1].offset;
        resolveOffset(last);
        await commitOffsetsIfNecessary();
        this.metrics.kafkaLag.set({ partition: String(batch.partition) }, Number(batch.offsetLag()));
        await heartbeat();
      },
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.disconnect().catch((err: Error) => log.warn({ err: err.message }, 'consumer disconnect failed'))));
    await this.producer?.disconnect().catch(() => undefined);
  }
}

function lowerHeaders(headers: IHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in headers) {
    const v = headers[k];
    out[k.toLowerCase()] = Array.isArray(v) ? String(v[0]) : String(v ?? '');
  }
  return out;
}
