import { Module } from '@nestjs/common';
import { BusModule } from '../bus/bus.module';
import { ConfigModule } from '../config/config.module';
import { GatewayConfig } from '../config/gateway.config';
import { EventsModule } from '../events/events.module';
import { MemoryRoomStore } from '../infra/memory/memory-room.store';
import { RedisConnection } from '../infra/redis/redis.connection';
import { RedisModule } from '../infra/redis/redis.module';
import { RedisRoomStore } from '../infra/redis/redis-room.store';
import { LinkModule } from '../link/link.module';
import { RoomStore } from './room.store';
import { RoomsService } from './rooms.service';

/** Rooms: membership (Redis or memory) and the room -> local links index that delivery reads. */
@Module({
  imports: [ConfigModule, RedisModule, BusModule, LinkModule, EventsModule],
  providers: [
    {
      provide: RoomStore,
      inject: [GatewayConfig, RedisConnection],
      useFactory: (config: GatewayConfig, redis: RedisConnection) => (config.mode === 'cluster' ? new RedisRoomStore(redis) : new MemoryRoomStore()),
    },
    RoomsService,
  ],
  exports: [RoomsService],
})
export class RoomsModule {}
