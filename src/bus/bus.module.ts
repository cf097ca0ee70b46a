import { Module } from '@nestjs/common';
import { ConfigModule } from '../config/config.module';
import { GatewayConfig } from '../config/gateway.config';
import { MemoryClusterBus } from '../infra/memory/memory-cluster.bus';
import { RedisClusterBus } from '../infra/redis/redis-cluster.bus';
import { RedisConnection } from '../infra/redis/redis.connection';
import { RedisModule } from '../infra/redis/redis.module';
import { ClusterBus } from './cluster-bus';
import { Subscriptions } from './subscriptions';

/** Node-to-node pub/sub: Redis in cluster mode, in-process in embedded mode; reference-counted subscriptions. */
@Module({
  imports: [ConfigModule, RedisModule],
  providers: [
    {
      provide: ClusterBus,
      inject: [GatewayConfig, RedisConnection],
      useFactory: (config: GatewayConfig, redis: RedisConnection) =>
        config.mode === 'cluster' ? new RedisClusterBus(redis, config.node.id) : new MemoryClusterBus(),
    },
    Subscriptions,
  ],
  exports: [ClusterBus, Subscriptions],
})
export class BusModule {}
