import { Module } from '@nestjs/common';
import { ConfigModule } from '../config/config.module';
import { GatewayConfig } from '../config/gateway.config';
import { MemoryMailbox } from '../infra/memory/memory-mailbox';
import { MemoryPushLog } from '../infra/memory/memory-push.log';
import { RedisConnection } from '../infra/redis/redis.connection';
import { RedisMailbox } from '../infra/redis/redis-mailbox';
import { RedisModule } from '../infra/redis/redis.module';
import { RedisPushLog } from '../infra/redis/redis-push.log';
import { Mailbox } from './mailbox';
import { PushLog } from './push-log';

/**
 * Each user's mailbox: PushLog writes (store and announce, one atomic step; dedup by mid),
 * Mailbox reads (resume). Redis in cluster mode, process memory in embedded mode.
 */
@Module({
  imports: [ConfigModule, RedisModule],
  providers: [
    {
      provide: Mailbox,
      inject: [GatewayConfig, RedisConnection],
      useFactory: (config: GatewayConfig, redis: RedisConnection) => {
        const { maxEntries, ttlSec, dedupTtlSec } = config.mailbox;
        return config.mode === 'cluster' ? new RedisMailbox(redis) : new MemoryMailbox(maxEntries, ttlSec, dedupTtlSec);
      },
    },
    {
      provide: PushLog,
      inject: [GatewayConfig, RedisConnection, Mailbox],
      useFactory: (config: GatewayConfig, redis: RedisConnection, mailbox: Mailbox) => {
        const { maxEntries, ttlSec, dedupTtlSec } = config.mailbox;
        return config.mode === 'cluster'
          ? new RedisPushLog(redis, maxEntries, ttlSec, dedupTtlSec, config.node.id)
          : new MemoryPushLog(mailbox as MemoryMailbox);
      },
    },
  ],
  exports: [Mailbox, PushLog],
})
export class MailboxModule {}
