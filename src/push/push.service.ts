import { Injectable, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { BusMessage, Channels, ClusterBus, PushMessage } from '../bus/cluster-bus';
import { Subscriptions } from '../bus/subscriptions';
import { CodecName } from '../codec/codec';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { EventSink } from '../events/event.sink';
import { Link, LinkState } from '../link/link';
import { CloseCode } from '../link/close-codes';
import { LinkManager } from '../link/link.manager';
import { wsFrame } from '../link/ws-frame';
import { Mailbox } from '../mailbox/mailbox';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { RoomStore } from '../rooms/room.store';
import { SessionStore } from '../session/session.store';
import { Envelope } from './envelope';

const log = logger('push');

export interface PushResult {
  mid: string;
  /** user pushes: users the push was stored for or handed to; links: links addressed; room/all: nodes reached */
  routed: number;
  /** the mid was already handled within the dedup window: nothing was sent */
  duplicate?: boolean;
  /** link ids named in to.links that no node holds */
  unknownLinks?: string[];
}

/** Per-link delivery state: the user's cursor as this link has seen it, and resume buffering. */
interface LinkPushState {
  epoch?: string;
  seq: number;
  /** pushes of epoch `epoch` up to this seq were sent by a resume replay: a live copy is dropped */
  floor: number;
  /** reasons to hold live user pushes (not yet `connected`, a resume replaying) */
  holds: number;
  /** live user pushes held while holds > 0, in order */
  pending?: PushMessage[];
  /**
   * the first seq delivered live on this link (epoch liveEpoch), kept until the first resume:
   * live pushes reach a link in seq order, so [firstLive, seq] is what it already has
   */
  firstLive?: number;
  liveEpoch?: string;
  resumed: boolean;
  /** rooms this link follows; created on the first join */
  rooms?: Set<string>;
}

/** mailbox entries read per round trip during a resume */
const RESUME_PAGE = 200;
/** live pushes held for one link while its resume replays; past this the link is slow (4008) */
const MAX_PENDING = 10_000;

const roomKey = (bizId: string, room: string) => `${bizId}\u0000${room}`;

/**
 * The push path. Sending side: dedup by mid, mailbox append (seq, epoch), then publish on the
 * bus channel of the target (user, room, biz, or the node holding a link). Receiving side:
 * frames encoded once per codec and written to the local links; per-link cursors drop what a
 * link already has, and hold live pushes while a resume reads the mailbox, so a resuming client
 * gets what it missed in order, then live pushes, nothing twice.
 */
@Injectable()
export class PushService implements OnModuleInit {
  private readonly states = new WeakMap<Link, LinkPushState>();
  /** room -> local links whose user is a member */
  private readonly roomLinks = new Map<string, Set<Link>>();
  private started?: Promise<void>;

  constructor(
    private readonly config: GatewayConfig,
    private readonly bus: ClusterBus,
    private readonly subscriptions: Subscriptions,
    private readonly sessions: SessionStore,
    private readonly mailbox: Mailbox,
    private readonly rooms: RoomStore,
    private readonly events: EventSink,
    private readonly links: LinkManager,
    private readonly metrics: GatewayMetrics,
  ) {}

  /** Idempotent: the governance app shares this instance, and Nest runs hooks once per app. */
  onModuleInit(): Promise<void> {
    this.started ??= (async () => {
      this.bus.onMessage((channel, message) => this.onBus(channel, message));
      await this.bus.subscribe(Channels.node(this.config.node.id));
    })();
    return this.started;
  }

  // ---- links joining and leaving ---------------------------------------------------------

  /** Subscribes the link's user, biz and room channels; resolves when they are live. */
  async attach(link: Link): Promise<void> {
    const { bizId, userId } = link.session;
    // held until ready(): nothing may reach the client before its `connected` frame
    const state: LinkPushState = { seq: 0, floor: 0, holds: 1, pending: [], resumed: false };
    this.states.set(link, state);
    const [rooms] = await Promise.all([
      this.rooms.roomsOf(bizId, userId),
      this.subscriptions.acquire(Channels.user(bizId, userId)),
      this.subscriptions.acquire(Channels.biz(bizId)),
    ]);
    await Promise.all(rooms.map((room) => this.followRoom(link, room)));
  }

  /**
   * `connected` has been sent: a cursor given on the upgrade URL is replayed first (strict
   * order: missed pushes, then live ones); otherwise pushes that arrived meanwhile go out now.
   */
  ready(link: Link): void {
    if (link.resumeFrom) {
      const { epoch, seq } = link.resumeFrom;
      // resume() takes its own hold synchronously, so the live pushes stay behind the replay
      this.resume(link, epoch, seq).catch((err: Error) => {
        log.warn({ sid: link.id, err: err.message }, 'resume failed');
        link.send({ type: 'error', code: 503, msg: 'resume failed: mailbox unavailable' });
      });
    }
    this.unhold(link);
  }

  private unhold(link: Link): void {
    const state = this.states.get(link);
    if (!state || --state.holds > 0) return;
    const pending = state.pending ?? [];
    state.pending = undefined;
    for (const m of pending) this.deliver([link], m);
  }

  detach(link: Link): void {
    const { bizId, userId } = link.session;
    this.subscriptions.release(Channels.user(bizId, userId));
    this.subscriptions.release(Channels.biz(bizId));
    const state = this.states.get(link);
    for (const room of state?.rooms ?? []) this.unfollowRoom(link, room);
    this.states.delete(link);
  }

  private async followRoom(link: Link, room: string): Promise<void> {
    const state = this.states.get(link);
    if (!state || state.rooms?.has(room)) return;
    (state.rooms ??= new Set()).add(room);
    const key = roomKey(link.session.bizId, room);
    let set = this.roomLinks.get(key);
    if (!set) this.roomLinks.set(key, (set = new Set()));
    set.add(link);
    await this.subscriptions.acquire(Channels.room(link.session.bizId, room));
  }

  private unfollowRoom(link: Link, room: string): void {
    const state = this.states.get(link);
    if (!state?.rooms?.delete(room)) return;
    const key = roomKey(link.session.bizId, room);
    const set = this.roomLinks.get(key);
    set?.delete(link);
    if (set && set.size === 0) this.roomLinks.delete(key);
    this.subscriptions.release(Channels.room(link.session.bizId, room));
  }

  // ---- rooms -----------------------------------------------------------------------------

  /** Adds the user to the room (Redis) and makes every link of the user, on any node, follow it. */
  async joinRoom(bizId: string, room: string, userId: string, sid?: string): Promise<void> {
    await this.rooms.join(bizId, room, userId);
    await Promise.all([...(this.links.registry.ofUser(bizId, userId) ?? [])].map((l) => this.followRoom(l, room)));
    await this.bus.publish(Channels.user(bizId, userId), { k: 'room', op: 'join', room });
    this.events.emit({ type: 'joined', bizId, userId, room, node: this.config.node.id, sid, ts: Date.now() });
  }

  async leaveRoom(bizId: string, room: string, userId: string, sid?: string): Promise<void> {
    await this.rooms.leave(bizId, room, userId);
    for (const l of this.links.registry.ofUser(bizId, userId) ?? []) this.unfollowRoom(l, room);
    await this.bus.publish(Channels.user(bizId, userId), { k: 'room', op: 'leave', room });
    this.events.emit({ type: 'left', bizId, userId, room, node: this.config.node.id, sid, ts: Date.now() });
  }

  // ---- sending ---------------------------------------------------------------------------

  /**
   * Handles one validated envelope. Resolves once every target has been stored (mailbox) and
   * handed to the bus, so a caller may then commit it; throws if Redis is unavailable.
   */
  async push(env: Envelope, source: string, fallbackMid?: string): Promise<PushResult> {
    const mid = env.mid ?? fallbackMid ?? randomUUID();
    const { to, bizId } = env;
    const op = env.op ?? 'push';
    if (op !== 'push') {
      for (const user of to.users!) await (op === 'join' ? this.joinRoom(bizId, env.room!, user) : this.leaveRoom(bizId, env.room!, user));
      return { mid, routed: to.users!.length };
    }
    this.metrics.pushesAccepted.inc({ source });
    const ts = Date.now();
    const base: PushMessage = { k: 'push', mid, body: env.body, ts };
    if (env.ttlSec) base.exp = ts + env.ttlSec * 1000;
    // serialised once: stored in the mailbox, announced on the bus and framed from this string
    const bodyJson = JSON.stringify(env.body);

    if (to.users) {
      const persist = env.persist !== false;
      const one = (user: string) => this.pushToUser(bizId, user, base, bodyJson, persist);
      const results = to.users.length === 1 ? [await one(to.users[0])] : await Promise.all(to.users.map(one));
      let dups = 0;
      for (const dup of results) if (dup) dups++;
      if (dups) this.metrics.pushesDropped.inc({ reason: 'duplicate' }, dups);
      return dups === results.length ? { mid, routed: 0, duplicate: true } : { mid, routed: results.length - dups };
    }

    // links, room, all: no mailbox, but redeliveries are still dropped by mid
    const scope = to.links ? '#links' : to.room !== undefined ? `#room:${to.room}` : '#all';
    if ((await this.mailbox.append(bizId, scope, { mid, body: null, ts }, { persist: false })).duplicate) {
      this.metrics.pushesDropped.inc({ reason: 'duplicate' });
      return { mid, routed: 0, duplicate: true };
    }
    if (to.all) return { mid, routed: await this.publish(Channels.biz(bizId), base, bodyJson) };
    if (to.room !== undefined) return { mid, routed: await this.publish(Channels.room(bizId, to.room), { ...base, room: to.room }, bodyJson) };

    const byNode = new Map<string, string[]>();
    const unknownLinks: string[] = [];
    const sessions = await Promise.all(to.links!.map((sid) => this.sessions.get(sid)));
    to.links!.forEach((sid, i) => {
      const s = sessions[i];
      if (!s || s.bizId !== bizId) unknownLinks.push(sid);
      else byNode.set(s.node, [...(byNode.get(s.node) ?? []), sid]);
    });
    if (unknownLinks.length) this.metrics.pushesDropped.inc({ reason: 'no_link' }, unknownLinks.length);
    await Promise.all(
      [...byNode].map(([node, sids]) =>
        node === this.config.node.id ? this.route(Channels.node(node), { ...base, sids }, bodyJson) : this.bus.publish(Channels.node(node), { ...base, sids }),
      ),
    );
    return { mid, routed: to.links!.length - unknownLinks.length, ...(unknownLinks.length ? { unknownLinks } : {}) };
  }

  /**
   * One user's copy: stored with the next seq (and announced to the other nodes in the same
   * step), then written to the user's links here. Resolves true for a duplicate mid.
   */
  private async pushToUser(bizId: string, user: string, base: PushMessage, bodyJson: string, persist: boolean): Promise<boolean> {
    const channel = Channels.user(bizId, user);
    // links of the user here and our subscription live: if no other node listens, the mailbox
    // need not announce the push (it would only come back to us)
    const listening = this.links.registry.ofUser(bizId, user) !== undefined && this.subscriptions.isLive(channel);
    const r = await this.mailbox.append(
      bizId,
      user,
      { mid: base.mid, body: base.body, bodyJson, ts: base.ts, exp: base.exp },
      { persist, announce: channel, listening },
    );
    let message = base;
    if (r.duplicate) {
      // the first copy may have been stored by a node that died before publishing it:
      // it goes out again under the stored seq; links that already have it drop it
      if (!persist || r.seq === 0) return true;
      message = { ...base, seq: r.seq, epoch: r.epoch, redelivery: true };
    } else if (persist) {
      this.metrics.pushesStored.inc();
      message = { ...base, seq: r.seq, epoch: r.epoch };
    }
    if (this.isLive(message)) {
      const links = this.links.registry.ofUser(bizId, user);
      if (links) this.deliver(links, message, bodyJson);
    }
    if (!r.announced) await this.bus.publish(channel, message);
    return r.duplicate;
  }

  /** Asks the node holding `sid` to close it. Resolves false if no node holds it. */
  async kick(sid: string, reason: string): Promise<boolean> {
    const local = this.links.registry.get(sid);
    if (local) {
      this.links.closeLink(local, CloseCode.KICKED, reason);
      return true;
    }
    const session = await this.sessions.get(sid);
    if (!session) return false;
    return (await this.bus.publish(Channels.node(session.node), { k: 'kick', sid, reason })) > 0;
  }

  // ---- receiving -------------------------------------------------------------------------

  private onBus(channel: string, message: BusMessage): void {
    const registry = this.links.registry;
    if (message.k === 'kick') {
      const link = registry.get(message.sid);
      if (link) this.links.closeLink(link, CloseCode.KICKED, message.reason);
      return;
    }
    if (message.k === 'room') {
      const [kind, a, b] = channel.split(':');
      if (kind !== 'user') return;
      for (const link of registry.ofUser(decodeURIComponent(a), decodeURIComponent(b)) ?? []) {
        if (message.op === 'join') this.followRoom(link, message.room).catch((err: Error) => log.warn({ err: err.message }, 'room subscribe failed'));
        else this.unfollowRoom(link, message.room);
      }
      return;
    }
    this.route(channel, message);
  }

  /** Delivers a push to the local links the channel stands for; resolves with how many got it. */
  private route(channel: string, message: PushMessage, bodyJson?: string): number {
    if (!this.isLive(message)) return 0;
    const registry = this.links.registry;
    const [kind, a, b] = channel.split(':');
    let targets: Iterable<Link> | undefined;
    if (message.sids) targets = message.sids.map((sid) => registry.get(sid)).filter((l): l is Link => l !== undefined);
    else if (kind === 'user') targets = registry.ofUser(decodeURIComponent(a), decodeURIComponent(b));
    else if (kind === 'room') targets = this.roomLinks.get(roomKey(decodeURIComponent(a), decodeURIComponent(b)));
    else if (kind === 'biz') targets = registry.ofBiz(decodeURIComponent(a));
    return targets ? this.deliver(targets, message, bodyJson) : 0;
  }

  /** false (and counted) for a push whose ttlSec has passed */
  private isLive(message: PushMessage): boolean {
    if (message.exp && Date.now() > message.exp) {
      this.metrics.pushesDropped.inc({ reason: 'expired' });
      return false;
    }
    return true;
  }

  /**
   * Local links first, without a round trip; then the other nodes through the bus (which never
   * echoes to the publisher). Resolves with the nodes that had targets or listened.
   */
  private async publish(channel: string, message: PushMessage, bodyJson: string): Promise<number> {
    const local = this.route(channel, message, bodyJson) > 0 ? 1 : 0;
    return Math.max(local, await this.bus.publish(channel, message));
  }

  /** `bodyJson`: the body already serialised, when the caller has it */
  private deliver(targets: Iterable<Link>, message: PushMessage, bodyJson?: string): number {
    // encoded and framed once per codec, whatever the number of links: every link of a codec
    // gets the same frame bytes (at most one entry per codec)
    const framed: Partial<Record<CodecName, Buffer>> = {};
    let delivered = 0;
    for (const link of targets) {
      if (message.seq !== undefined) {
        const state = this.states.get(link);
        if (!state) continue;
        if (state.pending) {
          // a resume is replaying: hold live pushes behind it, within a bound
          if (state.pending.length >= MAX_PENDING) this.links.onSlow(link);
          else state.pending.push(message);
          continue;
        }
        // live pushes are not repeated on the bus (redeliveries die at the mailbox by mid), so the
        // only copies to drop are those a resume replay already sent; pushes from two producers
        // may arrive out of seq order and are all delivered
        if (state.epoch === message.epoch && message.seq <= (message.redelivery ? state.seq : state.floor)) continue;
        if (state.epoch !== message.epoch) {
          state.epoch = message.epoch;
          state.seq = message.seq;
          state.floor = 0;
        } else if (message.seq > state.seq) state.seq = message.seq;
        if (!state.resumed && state.firstLive === undefined) {
          state.firstLive = message.seq;
          state.liveEpoch = message.epoch;
        }
      }
      const frame = (framed[link.codec.name] ??= wsFrame(link.codec.encodePush(pushFrame(message), bodyJson), link.codec.binary));
      if (link.sendFrame(frame)) delivered++;
    }
    if (delivered > 0) {
      this.metrics.pushesDelivered.inc(delivered);
      this.metrics.pushLatency.observe((Date.now() - message.ts) / 1000);
    }
    return delivered;
  }

  /**
   * Sends the link what its user missed after (epoch, seq), then what arrived live meanwhile,
   * in seq order and each once; a `resync` frame instead when the mailbox cannot fill the gap.
   * `epoch` undefined: a first connection, which gets everything still stored.
   */
  async resume(link: Link, epoch: string | undefined, seq: number): Promise<'entries' | 'resync'> {
    const state = this.states.get(link);
    if (!state) return 'entries';
    state.holds++;
    state.pending ??= [];
    let result: 'entries' | 'resync';
    try {
      result = 'entries';
      // page through the mailbox, keeping the link's backlog under half its bound, so a long
      // absence is replayed at the speed the client reads rather than closing it as slow
      const half = this.links.sendQueueMaxBytes / 2;
      let after = seq;
      let cursorEpoch = epoch;
      for (;;) {
        const read = await this.mailbox.readAfter(link.session.bizId, link.session.userId, cursorEpoch, after, RESUME_PAGE);
        if (read.kind === 'resync') {
          link.send({ type: 'resync', reason: read.reason, epoch: read.epoch, seq: read.seq });
          state.epoch = read.epoch;
          state.seq = read.seq;
          state.floor = read.seq;
          result = 'resync';
          break;
        }
        const now = Date.now();
        for (const e of read.entries) {
          if (link.state !== LinkState.OPEN) break;
          const alreadyLive = state.firstLive !== undefined && read.epoch === state.liveEpoch && e.seq >= state.firstLive;
          if (alreadyLive || (e.exp && now > e.exp)) continue;
          link.send(pushFrame({ k: 'push', mid: e.mid, body: e.body, ts: e.ts, seq: e.seq, epoch: read.epoch }));
          this.metrics.pushesDelivered.inc();
          if (link.backlogBytes > half) await link.drained();
        }
        const last = read.entries[read.entries.length - 1];
        if (last && (state.epoch !== read.epoch || last.seq > state.seq)) {
          state.epoch = read.epoch;
          state.seq = last.seq;
        } else if (read.epoch && state.epoch === undefined) state.epoch = read.epoch;
        if (last && state.epoch === read.epoch) state.floor = Math.max(state.floor, last.seq);
        if (!last || read.entries.length < RESUME_PAGE || link.state !== LinkState.OPEN) break;
        after = last.seq;
        cursorEpoch = read.epoch;
      }
    } finally {
      state.resumed = true;
      state.firstLive = undefined;
      this.unhold(link);
    }
    this.metrics.resumes.inc({ result });
    return result;
  }
}

function pushFrame(m: PushMessage) {
  return {
    type: 'push' as const,
    mid: m.mid,
    body: m.body,
    ...(m.room !== undefined ? { room: m.room } : {}),
    ...(m.seq !== undefined ? { seq: m.seq, epoch: m.epoch } : {}),
  };
}
