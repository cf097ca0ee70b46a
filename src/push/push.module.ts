import { Module } from '@nestjs/common';
import { BusModule } from '../bus/bus.module';
import { ConfigModule } from '../config/config.module';
import { GatewayConfig } from '../config/gateway.config';
import { DeliveryModule } from '../delivery/delivery.module';
import { KafkaConnection } from '../infra/kafka/kafka.connection';
import { KafkaModule } from '../infra/kafka/kafka.module';
import { KafkaPushSource } from '../infra/kafka/kafka-push.source';
import { MailboxModule } from '../mailbox/mailbox.module';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { MetricsModule } from '../metrics/metrics.module';
import { RoomsModule } from '../rooms/rooms.module';
import { SessionModule } from '../session/session.module';
import { PushConsumer } from './push-consumer.service';
import { NoPushSource, PushSource } from './push-source';
import { PushRouter } from './push.router';

/**
 * Where pushes come in and which nodes they go to: the Kafka consumer (cluster mode, unless
 * push.consume is off) and the router that the admin API's POST /api/push also uses.
 */
@Module({
  imports: [ConfigModule, MetricsModule, KafkaModule, MailboxModule, BusModule, SessionModule, DeliveryModule, RoomsModule],
  providers: [
    {
      provide: PushSource,
      inject: [GatewayConfig, KafkaConnection, GatewayMetrics],
      useFactory: (config: GatewayConfig, kafka: KafkaConnection, metrics: GatewayMetrics) => {
        if (config.mode !== 'cluster' || !config.push.consume) return new NoPushSource();
        const { topic, groupId, dlqTopic, eventsTopic, partitions, startFrom, partitionConcurrency, consumers } = config.push;
        return new KafkaPushSource(
          kafka,
          { topic, groupId, dlqTopic, extraTopics: [eventsTopic], partitions, startFrom, partitionConcurrency, consumers },
          metrics,
        );
      },
    },
    PushRouter,
    PushConsumer,
  ],
  exports: [PushRouter, PushConsumer],
})
export class PushModule {}
