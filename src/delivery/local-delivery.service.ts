import { Injectable, OnModuleInit } from '@nestjs/common';
import { BusMessage, Channels, ClusterBus, PushMessage } from '../bus/cluster-bus';
import { Subscriptions } from '../bus/subscriptions';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { Link, LinkState } from '../link/link';
import { LinkManager } from '../link/link.manager';
import { SharedFrame } from '../link/ws-frame';
import { Mailbox } from '../mailbox/mailbox';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { RoomsService } from '../rooms/rooms.service';

const log = logger('delivery');

/**
 * Per-link delivery state: which of its user's pushes the link has, and what is held back.
 * The link has every push of `epoch` with a seq in (lo, hi]; a live push of that epoch with seq
 * hi+1 is the next one, one at or under hi a copy it has, one past hi+1 means a gap (a push
 * this node never saw: the bus dropped it, or it is still on its way) which is filled from the
 * mailbox before anything later is written, so the link's pushes stay in seq order, each once.
 */
interface LinkPushState {
  /** the epoch of the user's stream; undefined: nothing was stored when the link attached */
  epoch?: string;
  lo: number;
  hi: number;
  /** reasons to hold live user pushes (not yet `connected`, a replay from the mailbox) */
  holds: number;
  /** live user pushes held while holds > 0, in arrival order */
  pending?: PushMessage[];
  /** the bus was interrupted while a replay ran: replay once more when it ends */
  refill?: boolean;
  /** the seq of the push whose gap the last replay was for (a second gap there is resynced) */
  filledFor?: number;
}

/** mailbox entries read per round trip during a replay */
const RESUME_PAGE = 200;
/** live pushes held for one link while its replay runs; past this the link is slow (4008) */
const MAX_PENDING = 10_000;
/** links replayed at once after the bus was interrupted */
const REFILL_CONCURRENCY = 32;
/** a replay that failed (mailbox unreachable) is tried again after this, up to REPLAY_TRIES times */
const REPLAY_RETRY_MS = 1000;
const REPLAY_TRIES = 5;

type Cause = 'resume' | 'seq_gap' | 'epoch_changed' | 'bus_interrupted';

/** why a live push left a gap: pushes missing in the link's stream, or a stream of a new epoch */
const gapCause = (state: LinkPushState, m: PushMessage): Cause => (state.epoch === m.epoch || state.epoch === undefined ? 'seq_gap' : 'epoch_changed');

/**
 * The delivery side of pushes (centrifuge's Hub): writes pushes to this node's own links, whether
 * the router here handed them over or another node's announcement arrived on the bus. Frames are
 * encoded once per codec and the same bytes go to every link. Each link keeps which of its
 * user's pushes it has (LinkPushState) and holds live pushes while not yet `connected` or while
 * a replay reads the mailbox (a client's resume, a seq gap, a new epoch, an interrupted bus), so
 * a link gets its user's pushes in order, each once, or a `resync` naming what the mailbox lost.
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
    this.bus.onInterrupted(() => this.refillAll());
    // pushes to links by id come on this node's own channel
    await this.subscriptions.acquire(Channels.node(this.config.node.id));
  }

  // ---- links joining and leaving ---------------------------------------------------------

  /**
   * Subscribes the link's user and biz channels; resolves when they are live and the link knows
   * where its user's stream stands (or the client's own cursor, given on the upgrade URL).
   */
  async attach(link: Link): Promise<void> {
    const { bizId, userId } = link.session;
    // held until ready(): nothing may reach the client before its `connected` frame
    const state: LinkPushState = { lo: 0, hi: 0, holds: 1, pending: [] };
    this.states.set(link, state);
    await Promise.all([this.subscriptions.acquire(Channels.user(bizId, userId)), this.subscriptions.acquire(Channels.biz(bizId))]);
    if (link.resumeFrom) {
      state.epoch = link.resumeFrom.epoch;
      state.lo = state.hi = link.resumeFrom.seq;
      return;
    }
    // read after the subscription is live: pushes appended since came on the bus and are held;
    // the first of them (in seq order, as the bus delivers) marks where the link starts
    const cursor = await this.mailbox.cursor(bizId, userId);
    const first = state.pending?.find((m) => m.seq !== undefined && m.epoch === cursor.epoch);
    state.epoch = cursor.epoch;
    state.lo = state.hi = first ? Math.min(cursor.seq, first.seq! - 1) : cursor.seq;
  }

  /**
   * `connected` has been sent: a cursor given on the upgrade URL is replayed first (strict
   * order: missed pushes, then live ones); otherwise pushes that arrived meanwhile go out now.
   */
  ready(link: Link): void {
    if (link.resumeFrom) {
      const { epoch, seq } = link.resumeFrom;
      // the replay takes its own hold synchronously, so the live pushes stay behind it
      void this.replay(link, epoch, seq, 'resume');
    }
    this.unhold(link);
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

  /**
   * What a link does with a live push of its user: `next` (written, the cursor moves), `copy`
   * (it has it: dropped), or `gap` (pushes between are missing: held until a replay fills them).
   */
  private verdict(state: LinkPushState, m: PushMessage): 'next' | 'copy' | 'gap' {
    const seq = m.seq!;
    if (state.epoch === m.epoch) {
      if (seq <= state.hi) return 'copy';
      if (seq > state.hi + 1) return 'gap';
      state.hi = seq;
      return 'next';
    }
    if (state.epoch === undefined && seq === 1) {
      // the first push of a stream that did not exist when the link attached
      state.epoch = m.epoch;
      state.lo = 0;
      state.hi = 1;
      return 'next';
    }
    return 'gap';
  }

  /** `bodyJson`: the body already serialised, when the caller has it */
  private deliver(targets: Iterable<Link>, message: PushMessage, bodyJson?: string): number {
    // encoded and framed once per codec, whatever the number of links: every link of a codec
    // gets the same frame bytes
    const shared = new SharedFrame((codec) => codec.encodePush(pushFrame(message), bodyJson));
    let delivered = 0;
    for (const link of targets) {
      if (message.seq !== undefined) {
        const state = this.states.get(link);
        if (!state) continue;
        if (state.pending) {
          // held: not yet connected, or a replay is running; within a bound
          if (state.pending.length >= MAX_PENDING) this.links.onSlow(link);
          else state.pending.push(message);
          continue;
        }
        const verdict = this.verdict(state, message);
        if (verdict === 'copy') continue;
        if (verdict === 'gap') {
          state.pending = [message];
          state.filledFor = message.seq;
          void this.replay(link, state.epoch, state.hi, gapCause(state, message));
          continue;
        }
      }
      if (link.sendShared(shared)) delivered++;
    }
    if (delivered > 0) {
      this.metrics.pushesDelivered.inc(delivered);
      this.metrics.pushLatency.observe((Date.now() - message.ts) / 1000);
    }
    return delivered;
  }

  /**
   * The hold is over: held pushes go out in order; a gap among them starts another replay. They
   * go out at the pace the client reads, like a replay: once the link's backlog passes half its
   * bound, the rest stays held (new live pushes queue behind it) until the socket drained, so a
   * client resuming while a burst was held is not closed as slow for the burst.
   */
  private unhold(link: Link): void {
    const state = this.states.get(link);
    if (!state || --state.holds > 0) return;
    if (state.refill) {
      // the bus was interrupted during the replay that just ended: once more (the held pushes stay held)
      state.refill = false;
      void this.replay(link, state.epoch, state.hi, 'bus_interrupted');
      return;
    }
    const pending = state.pending ?? [];
    state.pending = undefined;
    for (let i = 0; i < pending.length; i++) {
      const m = pending[i];
      if (m.seq === undefined) continue;
      const verdict = this.verdict(state, m);
      if (verdict === 'copy') continue;
      if (verdict === 'gap') {
        if (state.filledFor === m.seq && state.epoch === m.epoch) {
          // a replay ran for this very push and the mailbox had nothing before it: say so
          link.send({ type: 'resync', reason: 'gap_too_old', epoch: m.epoch!, seq: m.seq - 1 });
          this.metrics.resyncs.inc({ reason: 'gap_too_old' });
          state.lo = state.hi = m.seq - 1;
          i--;
          continue;
        }
        state.filledFor = m.seq;
        state.pending = pending.slice(i);
        void this.replay(link, state.epoch, state.hi, gapCause(state, m));
        return;
      }
      this.write(link, m);
      if (i < pending.length - 1 && link.state === LinkState.OPEN && this.backedUp(link)) {
        state.holds++;
        state.pending = pending.slice(i + 1);
        void link.drained().then(() => this.unhold(link));
        return;
      }
    }
  }

  /**
   * A writer of many pushes in a row (a replay, the release of held pushes) waits for the socket
   * past this: the link's backlog is kept under half its bound, so a long absence or a held burst
   * goes out at the speed the client reads rather than closing it as slow.
   */
  private backedUp(link: Link): boolean {
    return link.backlogBytes > this.links.sendQueueMaxBytes / 2;
  }

  private write(link: Link, m: PushMessage): void {
    if (link.send(pushFrame(m))) {
      this.metrics.pushesDelivered.inc();
      this.metrics.pushLatency.observe((Date.now() - m.ts) / 1000);
    }
  }

  /** The bus was interrupted (its messages meanwhile may be lost): every link fills from the mailbox. */
  private refillAll(): void {
    const links = [...this.links.registry.all()];
    this.metrics.busInterruptions.inc();
    log.info({ links: links.length }, 'bus interrupted: filling every link from the mailbox');
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < links.length) {
        const link = links[next++];
        const state = this.states.get(link);
        if (!state || link.state !== LinkState.OPEN) continue;
        if (state.holds > 0) state.refill = true;
        else await this.replay(link, state.epoch, state.hi, 'bus_interrupted');
      }
    };
    for (let i = 0; i < Math.min(REFILL_CONCURRENCY, links.length); i++) void worker();
  }

  /**
   * A client's `resume {epoch, seq}`: sends the link what its user's stream holds after that
   * cursor, then what arrived live meanwhile, in seq order and each once; a `resync` first when
   * the mailbox lost part of it. `epoch` undefined: everything still stored.
   */
  async resume(link: Link, epoch: string | undefined, seq: number): Promise<'entries' | 'resync'> {
    return this.replay(link, epoch, seq, 'resume');
  }

  /**
   * Reads the user's mailbox after (epoch, seq) and writes what the link does not have, page by
   * page at the speed the client reads, while live pushes wait behind it. Where the mailbox
   * cannot fill the gap it sends `resync {epoch, seq}` (everything up to there is lost) and goes
   * on with what is stored after that. Never throws: a mailbox that cannot be read is tried again
   * a few times, then the link is told with an `error 503` and live pushes go on.
   */
  private async replay(link: Link, epoch: string | undefined, seq: number, cause: Cause): Promise<'entries' | 'resync'> {
    const state = this.states.get(link);
    if (!state) return 'entries';
    state.holds++;
    state.pending ??= [];
    let result: 'entries' | 'resync' = 'entries';
    try {
      for (let tries = 1; ; tries++) {
        try {
          result = await this.readInto(link, state, epoch, seq);
          break;
        } catch (err) {
          if (tries >= REPLAY_TRIES || link.state !== LinkState.OPEN) {
            // a gap among the held pushes is then resynced (filledFor), so live pushes go on
            log.warn({ sid: link.id, cause, err: (err as Error).message }, 'mailbox read failed');
            link.send({ type: 'error', code: 503, msg: 'resume failed: mailbox unavailable' });
            break;
          }
          log.warn({ sid: link.id, cause, tries, err: (err as Error).message }, 'mailbox read failed: trying again');
          await new Promise((r) => setTimeout(r, REPLAY_RETRY_MS));
        }
      }
    } finally {
      this.unhold(link);
    }
    if (cause === 'resume') this.metrics.resumes.inc({ result });
    else this.metrics.gapFills.inc({ cause, result });
    return result;
  }

  private async readInto(link: Link, state: LinkPushState, epoch: string | undefined, seq: number): Promise<'entries' | 'resync'> {
    const { bizId, userId } = link.session;
    let result: 'entries' | 'resync' = 'entries';
    let at = seq;
    let cursorEpoch = epoch;
    for (;;) {
      const read = await this.mailbox.readAfter(bizId, userId, cursorEpoch, at, RESUME_PAGE);
      if (read.kind === 'resync') {
        link.send({ type: 'resync', reason: read.reason, epoch: read.epoch, seq: read.seq });
        this.metrics.resyncs.inc({ reason: read.reason });
        result = 'resync';
        state.epoch = read.epoch || undefined;
        state.lo = state.hi = read.seq;
        if (!read.epoch) break;
        // lost up to read.seq; what is stored after it comes next
        cursorEpoch = read.epoch;
        at = read.seq;
        continue;
      }
      if (!read.epoch) break;
      if (state.epoch !== read.epoch) {
        state.epoch = read.epoch;
        state.lo = state.hi = at;
      }
      const now = Date.now();
      let last = at;
      for (const e of read.entries) {
        if (link.state !== LinkState.OPEN) break;
        last = e.seq;
        const has = e.seq > state.lo && e.seq <= state.hi;
        if (has || (e.exp && now > e.exp)) continue;
        link.send(pushFrame({ k: 'push', mid: e.mid, body: e.body, ts: e.ts, seq: e.seq, epoch: read.epoch }));
        this.metrics.pushesDelivered.inc();
        if (this.backedUp(link)) await link.drained();
      }
      // the link now has everything from `at` up to the last entry read, and what it had
      if (at <= state.hi) {
        state.lo = Math.min(state.lo, at);
        state.hi = Math.max(state.hi, last);
      } else {
        state.lo = at;
        state.hi = last;
      }
      if (read.entries.length < RESUME_PAGE || link.state !== LinkState.OPEN) break;
      at = last;
      cursorEpoch = read.epoch;
    }
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
