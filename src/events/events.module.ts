import { Module, OnApplicationShutdown } from '@nestjs/common';
import { ConfigModule } from '../config/config.module';
import { GatewayConfig } from '../config/gateway.config';
import { KafkaConnection } from '../infra/kafka/kafka.connection';
import { KafkaModule } from '../infra/kafka/kafka.module';
import { KafkaEventSink } from '../infra/kafka/kafka-event.sink';
import { MemoryEventSink } from '../infra/memory/memory-event.sink';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { MetricsModule } from '../metrics/metrics.module';
import { EventSink } from './event.sink';

/** Lifecycle events and receipts to gateway.events (Kafka), or a ring in memory in embedded mode. */
@Module({
  imports: [ConfigModule, MetricsModule, KafkaModule],
  providers: [
    {
      provide: EventSink,
      inject: [GatewayConfig, KafkaConnection, GatewayMetrics],
      useFactory: (config: GatewayConfig, kafka: KafkaConnection, metrics: GatewayMetrics) =>
        config.mode === 'cluster' ? new KafkaEventSink(kafka, config.push.eventsTopic, metrics) : new MemoryEventSink(),
    },
  ],
  exports: [EventSink],
})
export class EventsModule implements OnApplicationShutdown {
  constructor(private readonly events: EventSink) {}
  /** flushes what is buffered; runs after the drain, when no link emits any more */
  onApplicationShutdown(): Promise<void> {
    return this.events.close();
  }
}
