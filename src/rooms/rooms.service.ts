import { Injectable, OnModuleInit } from '@nestjs/common';
import { BusMessage, Channels, ClusterBus } from '../bus/cluster-bus';
import { Subscriptions } from '../bus/subscriptions';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { EventSink } from '../events/event.sink';
import { Link, LinkState } from '../link/link';
import { LinkManager } from '../link/link.manager';
import { RoomStore } from './room.store';

const log = logger('rooms');

const roomKey = (bizId: string, room: string) => `${bizId}\u0000${room}`;

/**
 * Room membership and who follows a room here. Members are users (RoomStore, shared by every
 * node); every link of a member, on any node, follows the room: this node keeps room -> its
 * own links for delivery and holds the room's bus channel while one of them follows it.
 * Joining or leaving announces itself on the user's channel, so the nodes holding the user's
 * other links follow or stop following too.
 */
@Injectable()
export class RoomsService implements OnModuleInit {
  /** room -> local links whose user is a member */
  private readonly roomLinks = new Map<string, Set<Link>>();
  /** link -> the rooms it follows */
  private readonly followed = new WeakMap<Link, Set<string>>();

  constructor(
    private readonly config: GatewayConfig,
    private readonly store: RoomStore,
    private readonly bus: ClusterBus,
    private readonly subscriptions: Subscriptions,
    private readonly links: LinkManager,
    private readonly events: EventSink,
  ) {}

  onModuleInit(): void {
    this.bus.onMessage((channel, message) => this.onBus(channel, message));
  }

  /** A new link follows the rooms its user is a member of; resolves when their channels are live. */
  async attach(link: Link): Promise<void> {
    const rooms = await this.store.roomsOf(link.session.bizId, link.session.userId);
    await Promise.all(rooms.map((room) => this.follow(link, room)));
  }

  detach(link: Link): void {
    for (const room of this.followed.get(link) ?? []) this.unfollow(link, room);
    this.followed.delete(link);
  }

  /** The local links that follow the room (for delivery). */
  linksOf(bizId: string, room: string): ReadonlySet<Link> | undefined {
    return this.roomLinks.get(roomKey(bizId, room));
  }

  /** Adds the user to the room and makes every link of the user, on any node, follow it. */
  async join(bizId: string, room: string, userId: string, sid?: string): Promise<void> {
    await this.store.join(bizId, room, userId);
    await Promise.all([...(this.links.registry.ofUser(bizId, userId) ?? [])].map((l) => this.follow(l, room)));
    await this.bus.publish(Channels.user(bizId, userId), { k: 'room', op: 'join', room });
    this.events.emit({ type: 'joined', bizId, userId, room, node: this.config.node.id, sid, ts: Date.now() });
  }

  async leave(bizId: string, room: string, userId: string, sid?: string): Promise<void> {
    await this.store.leave(bizId, room, userId);
    for (const l of this.links.registry.ofUser(bizId, userId) ?? []) this.unfollow(l, room);
    await this.bus.publish(Channels.user(bizId, userId), { k: 'room', op: 'leave', room });
    this.events.emit({ type: 'left', bizId, userId, room, node: this.config.node.id, sid, ts: Date.now() });
  }

  members(bizId: string, room: string): Promise<string[]> {
    return this.store.members(bizId, room);
  }

  private async follow(link: Link, room: string): Promise<void> {
    // a link that closed while its rooms were being read follows nothing (detach already ran)
    if (link.state === LinkState.CLOSED) return;
    let rooms = this.followed.get(link);
    if (rooms?.has(room)) return;
    if (!rooms) this.followed.set(link, (rooms = new Set()));
    rooms.add(room);
    const key = roomKey(link.session.bizId, room);
    let set = this.roomLinks.get(key);
    if (!set) this.roomLinks.set(key, (set = new Set()));
    set.add(link);
    await this.subscriptions.acquire(Channels.room(link.session.bizId, room));
  }

  private unfollow(link: Link, room: string): void {
    if (!this.followed.get(link)?.delete(room)) return;
    const key = roomKey(link.session.bizId, room);
    const set = this.roomLinks.get(key);
    set?.delete(link);
    if (set && set.size === 0) this.roomLinks.delete(key);
    this.subscriptions.release(Channels.room(link.session.bizId, room));
  }

  /** another node's link of a user joined or left a room: this node's links of the user follow */
  private onBus(channel: string, message: BusMessage): void {
    if (message.k !== 'room') return;
    const target = Channels.parse(channel);
    if (target?.kind !== 'user') return;
    for (const link of this.links.registry.ofUser(target.bizId, target.userId) ?? []) {
      if (message.op === 'join') this.follow(link, message.room).catch((err: Error) => log.warn({ err: err.message }, 'room subscribe failed'));
      else this.unfollow(link, message.room);
    }
  }
}
