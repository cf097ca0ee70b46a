import type { Producer } from 'kafkajs';
import { logger } from '../../common/logger';
import { EventSink, GatewayEvent } from '../../events/event.sink';
import { GatewayMetrics } from '../../metrics/gateway.metrics';
import { KafkaConnection } from './kafka.connection';

const log = logger('kafka-events');
const MAX_BUFFER = 50_000;

/** Batches events every 20 ms into one produce to gateway.events (key = user id). */
export class KafkaEventSink extends EventSink {
  private readonly producer: Producer;
  private buffer: GatewayEvent[] = [];
  private timer?: NodeJS.Timeout;
  private connected: Promise<void>;
  private sending = Promise.resolve();

  constructor(
    kafka: KafkaConnection,
    private readonly topic: string,
    private readonly metrics: GatewayMetrics,
  ) {
    super();
    this.producer = kafka.client.producer({ allowAutoTopicCreation: true });
    this.connected = this.producer.connect().catch((err: Error) => log.warn({ err: err.message }, 'events producer not connected'));
  }

  emit(event: GatewayEvent): void {
    if (this.buffer.length >= MAX_BUFFER) {
      this.metrics.eventsDropped.inc();
      return;
    }
    this.buffer.push(event);
    this.timer ??= setTimeout(() => this.flush(), 20);
  }

  private flush(): Promise<void> {
    this.timer = undefined;
    const batch = this.buffer.splice(0);
    if (batch.length === 0) return this.sending;
    this.sending = this.sending.then(async () => {
      await this.connected;
      try {
        await this.producer.send({ topic: this.topic, messages: batch.map((e) => ({ key: e.userId, value: JSON.stringify(e), headers: { type: e.type } })) });
        this.metrics.eventsPublished.inc(batch.length);
      } catch (err) {
        this.metrics.eventsDropped.inc(batch.length);
        log.warn({ err: (err as Error).message, events: batch.length }, 'events not published');
      }
    });
    return this.sending;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.flush();
    await this.producer.disconnect().catch(() => undefined);
  }
}
