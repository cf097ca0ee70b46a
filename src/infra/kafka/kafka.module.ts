import { Module } from '@nestjs/common';
import { ConfigModule } from '../../config/config.module';
import { GatewayConfig } from '../../config/gateway.config';
import { KafkaConnection } from './kafka.connection';

/**
 * The node's Kafka client (cluster mode; constructing it connects nothing). The push source
 * and the event sink built on it connect and close themselves.
 */
@Module({
  imports: [ConfigModule],
  providers: [
    {
      provide: KafkaConnection,
      inject: [GatewayConfig],
      useFactory: (config: GatewayConfig) => new KafkaConnection(config.kafka.brokers, config.kafka.clientId),
    },
  ],
  exports: [KafkaConnection],
})
export class KafkaModule {}
