import type { Message, Producer } from 'kafkajs';
import { logger } from '../../common/logger';
import { EventSink, GatewayEvent } from '../../events/event.sink';
import { GatewayMetrics } from '../../metrics/gateway.metrics';
import { KafkaConnection } from './kafka.connection';

const log = logger('kafka-events');
const MAX_BUFFER = 50_000;

export interface KafkaEventSinkOptions {
  /** an event larger than this, serialized, is refused at emit (counted as too_large) */
  maxEventBytes?: number;
  /** serialized bytes per produce call: one flush is sent in chunks of at most this */
  maxBatchBytes?: number;
  /** refusals are logged at most once per this interval, with how many there were */
  refusalLogIntervalMs?: number;
}

/**
 * 16 KB: an event is a few hundred bytes; one this large carries a client field nobody bounded
 * (an `ack-push` mid of hundreds of KB), and a few of them would make the broker refuse a whole
 * batch, other users' events with it.
 */
export const MAX_EVENT_BYTES = 16 * 1024;
/** well under the broker's default message.max.bytes (1 MiB), which bounds one partition's batch */
export const MAX_BATCH_BYTES = 256 * 1024;

/** the broker refused a record or a batch for its size (the topic's max.message.bytes) */
function isSizeError(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.type === 'MESSAGE_TOO_LARGE' || e.type === 'RECORD_LIST_TOO_LARGE') return true;
  }
  return false;
}

/**
 * Batches events every 20 ms into produces to gateway.events (key = user id). One bad event
 * never costs the others: an event over `maxEventBytes` is refused at emit; a flush goes out in
 * chunks of at most `maxBatchBytes`; a produce the broker refuses for its size is split in
 * halves, down to single events, so only the events the broker cannot take are dropped. Each
 * drop is counted in websocket_gateway_events_dropped_total{reason}. A produce covers several
 * partitions and the broker may have taken the others' records before refusing one, so a split
 * can repeat a few events (best effort, as before: at least the good ones arrive).
 */
export class KafkaEventSink extends EventSink {
  private readonly producer: Producer;
  /** serialized events waiting for the next flush, with their sizes */
  private buffer: { message: Message; bytes: number }[] = [];
  private timer?: NodeJS.Timeout;
  private connected: Promise<void>;
  private sending = Promise.resolve();
  private readonly maxEventBytes: number;
  private readonly maxBatchBytes: number;
  private readonly refusalLogIntervalMs: number;
  private refused = 0;
  private lastRefusalLog = 0;

  constructor(
    kafka: KafkaConnection,
    private readonly topic: string,
    private readonly metrics: GatewayMetrics,
    options: KafkaEventSinkOptions = {},
  ) {
    super();
    this.maxEventBytes = options.maxEventBytes ?? MAX_EVENT_BYTES;
    this.maxBatchBytes = options.maxBatchBytes ?? MAX_BATCH_BYTES;
    this.refusalLogIntervalMs = options.refusalLogIntervalMs ?? 10_000;
    this.producer = kafka.client.producer({ allowAutoTopicCreation: true });
    this.connected = this.producer.connect().catch((err: Error) => log.warn({ err: err.message }, 'events producer not connected'));
  }

  emit(event: GatewayEvent): void {
    if (this.buffer.length >= MAX_BUFFER) {
      this.metrics.eventsDropped.inc({ reason: 'buffer_full' });
      return;
    }
    const value = JSON.stringify(event);
    const bytes = Buffer.byteLength(value);
    if (bytes > this.maxEventBytes) {
      this.refuse(event, bytes);
      return;
    }
    this.buffer.push({ message: { key: event.userId, value, headers: { type: event.type } }, bytes });
    this.timer ??= setTimeout(() => this.flush(), 20);
  }

  /** counts a refused event; logs once per interval how many, with the last one's identity (not its content) */
  private refuse(event: GatewayEvent, bytes: number): void {
    this.metrics.eventsDropped.inc({ reason: 'too_large' });
    this.refused++;
    const now = Date.now();
    if (now - this.lastRefusalLog < this.refusalLogIntervalMs) return;
    log.warn(
      { refused: this.refused, last: { type: event.type, bizId: event.bizId, userId: event.userId, bytes }, maxEventBytes: this.maxEventBytes },
      'events too large for gateway.events refused',
    );
    this.refused = 0;
    this.lastRefusalLog = now;
  }

  private flush(): Promise<void> {
    this.timer = undefined;
    const batch = this.buffer.splice(0);
    if (batch.length === 0) return this.sending;
    this.sending = this.sending.then(async () => {
      await this.connected;
      // chunks in order, one after the other: one user's events stay in order
      for (const chunk of this.chunks(batch)) await this.send(chunk);
    });
    return this.sending;
  }

  /** consecutive runs of messages of at most maxBatchBytes each (one message larger stays alone) */
  private *chunks(batch: { message: Message; bytes: number }[]): Generator<Message[]> {
    let chunk: Message[] = [];
    let bytes = 0;
    for (const { message, bytes: size } of batch) {
      if (chunk.length > 0 && bytes + size > this.maxBatchBytes) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(message);
      bytes += size;
    }
    if (chunk.length) yield chunk;
  }

  /** produces `messages`; on a size refusal, each half again, down to single messages */
  private async send(messages: Message[]): Promise<void> {
    try {
      await this.producer.send({ topic: this.topic, messages });
      this.metrics.eventsPublished.inc(messages.length);
    } catch (err) {
      const tooLarge = isSizeError(err);
      if (tooLarge && messages.length > 1) {
        const half = Math.ceil(messages.length / 2);
        await this.send(messages.slice(0, half));
        await this.send(messages.slice(half));
        return;
      }
      this.metrics.eventsDropped.inc({ reason: tooLarge ? 'too_large' : 'produce_failed' }, messages.length);
      log.warn({ err: (err as Error).message, events: messages.length }, tooLarge ? 'event refused by the broker for its size' : 'events not published');
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.flush();
    await this.producer.disconnect().catch(() => undefined);
  }
}
