import { Module } from '@nestjs/common';
import { ConfigModule } from '../config/config.module';
import { GatewayConfig } from '../config/gateway.config';
import { MemorySessionStore } from '../infra/memory/memory-session.store';
import { RedisConnection } from '../infra/redis/redis.connection';
import { RedisModule } from '../infra/redis/redis.module';
import { RedisSessionStore } from '../infra/redis/redis-session.store';
import { SessionStore } from './session.store';

/** Who each link is, and the user -> links directory: Redis in cluster mode, memory in embedded mode. */
@Module({
  imports: [ConfigModule, RedisModule],
  providers: [
    {
      provide: SessionStore,
      inject: [GatewayConfig, RedisConnection],
      useFactory: (config: GatewayConfig, redis: RedisConnection) =>
        config.mode === 'cluster' ? new RedisSessionStore(redis, config.session.cacheMax, config.session.cacheTtlMs) : new MemorySessionStore(),
    },
  ],
  exports: [SessionStore],
})
export class SessionModule {}
