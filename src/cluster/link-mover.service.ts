import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { EventSink } from '../events/event.sink';
import type { Link } from '../link/link';
import { LinkState } from '../link/link';
import { LinkManager } from '../link/link.manager';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import type { MoveReason } from './control';
import { MoveLog, MoveRecord } from './move-log';
import { candidatePeers, MOVE_TICK_MS, Pacer, PeerSpreader } from './move-plan';
import { PeerDirectory } from './peer-directory.service';

const log = logger('mover');

export interface MovePlan {
  /** move links until at most this many are left open */
  target: number;
  /** node ids to prefer as destinations (a rebalance's emptiest nodes); empty = any running peer by room */
  toward?: readonly string[];
  reason: MoveReason;
  /** the close code after the redirect: 4010 (moved) for directives, 1001 for a shutdown */
  closeCode: number;
  ratePerSec: number;
  /** no peer with room: `wait` (keep the links, try again each tick) or `close` them without a redirect */
  noPeer: 'wait' | 'close';
}

export interface MoveResult {
  moved: number;
  /** links still open when the run ended */
  left: number;
  ended: 'target' | 'cancelled';
}

export interface MoveRun {
  readonly plan: MovePlan;
  readonly done: Promise<MoveResult>;
  cancel(): void;
}

/**
 * Moves links off this node, paced: every MOVE_TICK_MS it takes what the pacer allows (the plan's
 * rate, spread evenly, so a peer sees a steady trickle of reconnects, never a storm), picks links
 * without uplink requests in flight first (their acks would be lost with the link), and gives
 * each a `redirect {url, reason}` to a peer chosen by free room (PeerSpreader), then the close.
 * The redirect goes out after everything already queued for the link (LinkManager.redirect), so
 * the client's cursor covers exactly what it was sent; pushes that arrive while it reconnects
 * are in its user's mailbox (every user push is stored before it is announced) and its
 * `?resume=<epoch>:<seq>` on the peer replays them, in order, once. One run at a time: a new
 * plan (the directive changed) cancels the one before.
 */
@Injectable()
export class LinkMover implements OnApplicationShutdown {
  private run?: MoveRun;
  /** what this node moved lately, for the admin overview */
  private readonly log = new MoveLog();

  constructor(
    private readonly config: GatewayConfig,
    private readonly links: LinkManager,
    private readonly peers: PeerDirectory,
    private readonly metrics: GatewayMetrics,
    private readonly events: EventSink,
  ) {}

  get active(): MoveRun | undefined {
    return this.run;
  }

  cancel(): void {
    this.run?.cancel();
  }

  /** this node's recent mover runs that moved links, most recent first (bounded, in memory) */
  recentMoves(): MoveRecord[] {
    return this.log.recent();
  }

  onApplicationShutdown(): void {
    this.cancel();
  }

  start(plan: MovePlan): MoveRun {
    this.cancel();
    const registry = this.links.registry;
    /** links this run redirected whose close has not completed yet */
    const moving = new Set<Link>();
    const pacer = new Pacer(plan.ratePerSec, Date.now());
    const spreader = new PeerSpreader(plan.toward ?? []);
    const self = this.config.node.id;
    let moved = 0;
    const record = this.log.begin(self!, plan.reason);
    let warnedNoPeer = false;
    let timer: NodeJS.Timeout | undefined;
    let finish!: (r: MoveResult) => void;
    const done = new Promise<MoveResult>((resolve) => (finish = resolve));
    const open = () => registry.size - moving.size;
    const end = (ended: MoveResult['ended']) => {
      clearInterval(timer);
      if (this.run === handle) this.run = undefined;
      finish({ moved, left: open(), ended });
    };
    // PeerDirectory keeps the list fresh (shedding.peerCacheMs); the spreader sees each new one
    const refreshPeers = async () => spreader.update(candidatePeers(await this.peers.nodes(), self));

    const tick = () => {
      const excess = open() - plan.target;
      if (excess <= 0) return end('target');
      void refreshPeers();
      const n = Math.min(pacer.take(Date.now()), excess);
      if (n <= 0) return;
      for (const link of this.pick(n, moving)) {
        const peer = spreader.pick();
        if (!peer && plan.noPeer === 'wait') {
          if (!warnedNoPeer) log.warn({ reason: plan.reason, open: open(), target: plan.target }, 'no running peer has room: waiting to move links');
          warnedNoPeer = true;
          return;
        }
        if (!this.links.redirect(link, peer?.url, plan.reason, plan.closeCode)) continue;
        moving.add(link);
        link.onClosed(() => moving.delete(link));
        moved++;
        record(1);
        this.metrics.linkMoves.inc({ reason: plan.reason });
        const s = link.session;
        this.events.emit({
          type: 'moved',
          bizId: s.bizId,
          userId: s.userId,
          ...(s.deviceId ? { deviceId: s.deviceId } : {}),
          sid: s.sid,
          node: self,
          from: self,
          to: peer?.id ?? '',
          reason: plan.reason,
          ts: Date.now(),
        });
      }
    };

    const handle: MoveRun = { plan, done, cancel: () => end('cancelled') };
    this.run = handle;
    log.info({ ...plan, open: open() }, 'moving links');
    // the peer list first, then the first batch at once, then one batch per tick
    void refreshPeers().then(() => {
      if (this.run !== handle) return;
      tick();
      if (this.run === handle) timer = setInterval(tick, MOVE_TICK_MS);
    });
    void done.then((r) => log.info({ reason: plan.reason, ...r }, 'moving links ended'));
    return handle;
  }

  /** up to `n` open links not yet moving, those without uplink requests in flight first */
  private pick(n: number, moving: ReadonlySet<Link>): Link[] {
    const idle: Link[] = [];
    const busy: Link[] = [];
    for (const link of this.links.registry.all()) {
      if (link.state !== LinkState.OPEN || moving.has(link)) continue;
      if (link.inflight === 0) {
        idle.push(link);
        if (idle.length >= n) return idle;
      } else if (busy.length < n) busy.push(link);
    }
    return idle.concat(busy.slice(0, n - idle.length));
  }
}
