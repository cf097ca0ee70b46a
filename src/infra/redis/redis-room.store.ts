import { RoomStore } from '../../rooms/room.store';
import { RedisConnection } from './redis.connection';

const part = (s: string) => encodeURIComponent(s);

/** `<p>room:<biz>:<room>` set of user ids; `<p>urooms:<biz>:<user>` set of rooms. One MULTI per change. */
export class RedisRoomStore extends RoomStore {
  constructor(private readonly redis: RedisConnection) {
    super();
  }
  private roomKey(bizId: string, room: string) {
    return `${this.redis.keyPrefix}room:${part(bizId)}:${part(room)}`;
  }
  private userKey(bizId: string, userId: string) {
    return `${this.redis.keyPrefix}urooms:${part(bizId)}:${part(userId)}`;
  }
  async join(bizId: string, room: string, userId: string): Promise<boolean> {
    const res = await this.redis.command.multi().sadd(this.roomKey(bizId, room), userId).sadd(this.userKey(bizId, userId), room).exec();
    if (!res || res.some(([e]) => e)) throw new Error('redis room join failed');
    return res[0][1] === 1;
  }
  async leave(bizId: string, room: string, userId: string): Promise<boolean> {
    const res = await this.redis.command.multi().srem(this.roomKey(bizId, room), userId).srem(this.userKey(bizId, userId), room).exec();
    if (!res || res.some(([e]) => e)) throw new Error('redis room leave failed');
    return res[0][1] === 1;
  }
  roomsOf(bizId: string, userId: string): Promise<string[]> {
    return this.redis.command.smembers(this.userKey(bizId, userId));
  }
  members(bizId: string, room: string): Promise<string[]> {
    return this.redis.command.smembers(this.roomKey(bizId, room));
  }
}
