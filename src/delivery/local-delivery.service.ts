import { Injectable, OnModuleInit } from '@nestjs/common';
import { BusMessage, Channels, ClusterBus, PushMessage } from '../bus/cluster-bus';
import { Subscriptions } from '../bus/subscriptions';
import { CodecName } from '../codec/codec';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { Link, LinkState } from '../link/link';
import { LinkManager } from '../link/link.manager';
import { wsFrame } from '../link/ws-frame';
import { Mailbox } from '../mailbox/mailbox';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { RoomsService } from '../rooms/rooms.service';

const log = logger('delivery');

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
}

/** mailbox entries read per round trip during a resume */
const RESUME_PAGE = 200;
/** live pushes held for one link while its resume replays; past this the link is slow (4008) */
const MAX_PENDING = 10_000;

/**
 * The delivery side of pushes (centrifuge's Hub): writes pushes to this node's own links, whether
 * the router here handed them over or another node's announcement arrived on the bus. Frames are
 * encoded once per codec and the same bytes go to every link. Each link keeps its user's cursor
 * `(epoch, seq)`, drops what it already has, and holds live pushes while not yet `connected` or
 * while a resume replays the mailbox, so a resuming client gets what it missed in order, then
 * live pushes, nothing twice.
 */
@Injectable()
export class LocalDelivery implements OnModuleInit {
  private readonly states = new WeakMap<Link, LinkPushState>();

  constructor(
    private readonly config: GatewayConfig,
    private readonly bus: ClusterBus,
    private readonly subscriptions: Subscriptions,
    private readonly mailbox: Mailbox,
    private readonly rooms: RoomsService,
    private readonly links: LinkManager,
    private readonly metrics: GatewayMetrics,
  ) {}

  async onModuleInit(): Promise<void> {
    this.bus.onMessage((channel, message) => this.onBus(channel, message));
    // pushes to links by id come on this node's own channel
    await this.subscriptions.acquire(Channels.node(this.config.node.id));
  }

  // ---- links joining and leaving ---------------------------------------------------------

  /** Subscribes the link's user and biz channels; resolves when they are live. */
  async attach(link: Link): Promise<void> {
    const { bizId, userId } = link.session;
    // held until ready(): nothing may reach the client before its `connected` frame
    this.states.set(link, { seq: 0, floor: 0, holds: 1, pending: [], resumed: false });
    await Promise.all([this.subscriptions.acquire(Channels.user(bizId, userId)), this.subscriptions.acquire(Channels.biz(bizId))]);
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
    this.states.delete(link);
  }

  /**
   * This node holds links of the user and its subscription to the user's channel is live: it
   * will deliver to them itself, so an announcement need reach only the other nodes.
   */
  listening(bizId: string, userId: string): boolean {
    return this.links.registry.ofUser(bizId, userId) !== undefined && this.subscriptions.isLive(Channels.user(bizId, userId));
  }

  // ---- delivering ------------------------------------------------------------------------
  // Each resolves with the number of local links written to; `bodyJson` is the body already
  // serialised, when the caller has it.

  toUser(bizId: string, userId: string, message: PushMessage, bodyJson?: string): number {
    if (!this.isLive(message)) return 0;
    const links = this.links.registry.ofUser(bizId, userId);
    return links ? this.deliver(links, message, bodyJson) : 0;
  }

  toRoom(bizId: string, room: string, message: PushMessage, bodyJson?: string): number {
    if (!this.isLive(message)) return 0;
    const links = this.rooms.linksOf(bizId, room);
    return links ? this.deliver(links, message, bodyJson) : 0;
  }

  toBiz(bizId: string, message: PushMessage, bodyJson?: string): number {
    if (!this.isLive(message)) return 0;
    const links = this.links.registry.ofBiz(bizId);
    return links ? this.deliver(links, message, bodyJson) : 0;
  }

  toLinks(sids: string[], message: PushMessage, bodyJson?: string): number {
    if (!this.isLive(message)) return 0;
    const registry = this.links.registry;
    const targets: Link[] = [];
    for (const sid of sids) {
      const link = registry.get(sid);
      if (link) targets.push(link);
    }
    return this.deliver(targets, message, bodyJson);
  }

  /** a push another node announced on a channel this node holds */
  private onBus(channel: string, message: BusMessage): void {
    if (message.k !== 'push') return;
    if (message.sids) {
      this.toLinks(message.sids, message);
      return;
    }
    const target = Channels.parse(channel);
    if (target?.kind === 'user') this.toUser(target.bizId, target.userId, message);
    else if (target?.kind === 'room') this.toRoom(target.bizId, target.room, message);
    else if (target?.kind === 'biz') this.toBiz(target.bizId, message);
  }

  /** false (and counted) for a push whose ttlSec has passed */
  private isLive(message: PushMessage): boolean {
    if (message.exp && Date.now() > message.exp) {
      this.metrics.pushesDropped.inc({ reason: 'expired' });
      return false;
    }
    return true;
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
