import { RoomStore } from '../../rooms/room.store';

export class MemoryRoomStore extends RoomStore {
  private readonly rooms = new Map<string, Set<string>>();
  private readonly users = new Map<string, Set<string>>();

  private set(map: Map<string, Set<string>>, key: string): Set<string> {
    let s = map.get(key);
    if (!s) map.set(key, (s = new Set()));
    return s;
  }

  async join(bizId: string, room: string, userId: string): Promise<boolean> {
    const members = this.set(this.rooms, `${bizId}\0${room}`);
    const added = !members.has(userId);
    members.add(userId);
    this.set(this.users, `${bizId}\0${userId}`).add(room);
    return added;
  }
  async leave(bizId: string, room: string, userId: string): Promise<boolean> {
    const removed = this.rooms.get(`${bizId}\0${room}`)?.delete(userId) ?? false;
    this.users.get(`${bizId}\0${userId}`)?.delete(room);
    return removed;
  }
  async roomsOf(bizId: string, userId: string): Promise<string[]> {
    return [...(this.users.get(`${bizId}\0${userId}`) ?? [])];
  }
  async members(bizId: string, room: string): Promise<string[]> {
    return [...(this.rooms.get(`${bizId}\0${room}`) ?? [])];
  }
}
