/**
 * Room membership, by user, shared by every node and surviving any of them.
 * Guarantee: after join() resolves, members() and roomsOf() on any node include the user;
 * after leave() they do not.
 */
export abstract class RoomStore {
  abstract join(bizId: string, room: string, userId: string): Promise<boolean>;
  abstract leave(bizId: string, room: string, userId: string): Promise<boolean>;
  abstract roomsOf(bizId: string, userId: string): Promise<string[]>;
  abstract members(bizId: string, room: string): Promise<string[]>;
}
