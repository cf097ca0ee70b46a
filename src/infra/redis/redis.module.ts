import { Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConfigModule } from '../../config/config.module';
import { GatewayConfig } from '../../config/gateway.config';
import { RedisConnection } from './redis.connection';

/**
 * The node's Redis connections (cluster mode). The adapters built on them (sessions, bus,
 * mailbox, rooms) are bound by the modules of their ports. Boot waits until Redis answers (a
 * clear error naming the URL otherwise); shutdown closes the clients last.
 */
@Module({
  imports: [ConfigModule],
  providers: [
    {
      provide: RedisConnection,
      inject: [GatewayConfig],
      useFactory: (config: GatewayConfig) => new RedisConnection(config.redis.url, config.redis.keyPrefix, `ws-gateway:${config.node.id}`),
    },
  ],
  exports: [RedisConnection],
})
export class RedisModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly config: GatewayConfig,
    private readonly redis: RedisConnection,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.config.mode === 'cluster') await this.redis.waitReady(10000);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.config.mode === 'cluster') await this.redis.close();
  }
}
