import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Codec } from '../codec/codec';
import { logger } from '../common/logger';
import { withTimeout } from '../common/timeout';
import { GatewayConfig } from '../config/gateway.config';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import type { Session } from '../session/session';
import { CloseCode, closeReasonLabel } from './close-codes';
import { Link, LinkOwner, LinkState, ResumeCursor } from './link';
import { LinkRegistry } from './link.registry';
import { TimerWheel } from './timer-wheel';

const log = logger('link');

/** Error-frame codes (docs/protocol.md). */
export const ErrorCode = { BAD_FRAME: 400, UNAUTHORIZED: 401, NOT_ALLOWED: 405, INTERNAL: 500, UNAVAILABLE: 503 } as const;

/** What the upgrader admitted: who the link is and how it talks. */
export interface Admitted {
  session: Session;
  codec: Codec;
  /** the subprotocol to answer with (the codec's), if the client offered one */
  protocol?: string;
  /** epoch ms the token expires */
  expiresAt: number;
  resumeFrom?: ResumeCursor;
}

/**
 * Owns every open link of the node: the registry, the shared heartbeat wheel, the per-tick
 * flush, closing, and the metrics edge of links. The WebSocket server and the upgrade are the
 * adapter's (GatewayWsAdapter), frames go to the Nest gateway (linkevent/); this class knows
 * nothing of either.
 */
@Injectable()
export class LinkManager implements LinkOwner, OnModuleDestroy {
  readonly registry = new LinkRegistry();
  /** sids whose session is stored and whose handshake is still completing (not in the registry yet) */
  readonly admitting = new Set<string>();
  readonly sendQueueMaxBytes: number;
  private readonly wheel: TimerWheel<Link>;
  private readonly dirty: Link[] = [];
  private flushScheduled = false;
  readonly heartbeatMs: number;
  private readonly maxMissed: number;

  constructor(
    config: GatewayConfig,
    private readonly metrics: GatewayMetrics,
  ) {
    this.sendQueueMaxBytes = config.link.sendQueueMaxBytes;
    this.heartbeatMs = config.link.heartbeatMs;
    this.maxMissed = config.link.maxMissedPongs;
    // fine ticks (1/250 of the heartbeat, 10..100 ms): the links that share a slot are pinged
    // together, and with 1 s ticks the links that connected in the same second (a thousand or
    // more during a connect burst) got their pings in one turn and sent their pongs back at
    // once, a stall of tens of ms every second that showed as push latency. 512 slots cover a
    // heartbeat; longer deadlines wait whole rounds.
    const tickMs = Math.min(100, Math.max(10, Math.floor(this.heartbeatMs / 250)));
    this.wheel = new TimerWheel<Link>(tickMs, 512, (link, now) => this.onTimer(link, now));
    this.wheel.start();
  }

  onModuleDestroy(): void {
    this.wheel.stop();
    for (const link of this.registry.all()) link.terminate();
  }

  /** A socket ws has just upgraded for an admitted client: the link, registered and timed. */
  open(ws: WebSocket, socket: Duplex, admitted: Admitted): Link {
    const { session, codec, expiresAt, resumeFrom } = admitted;
    const link = new Link(ws, socket, session, codec, expiresAt, this);
    link.resumeFrom = resumeFrom;
    this.admitting.delete(session.sid);
    this.registry.add(link);
    this.gauges();
    ws.on('pong', () => (link.missedPongs = 0));
    ws.on('error', (err) => log.debug({ sid: link.id, err: err.message }, 'socket error'));
    ws.once('close', (code: number) => this.onClosed(link, code));
    // the first ping at a random point of the second half of the interval, so the links of a
    // reconnect storm do not stay in step (later pings keep a full heartbeat apart)
    const firstPing = this.heartbeatMs * (0.5 + Math.random() / 2);
    this.wheel.schedule(link, Math.min(firstPing, expiresAt - Date.now()));
    return link;
  }

  /** Counts an inbound message: the peer is alive. */
  heard(link: Link, bytes: number): void {
    link.missedPongs = 0;
    this.metrics.bytesIn.inc(bytes);
  }

  private onClosed(link: Link, code: number): void {
    this.wheel.cancel(link);
    if (!this.registry.remove(link)) return;
    this.metrics.closes.inc({ reason: closeReasonLabel(link.closeCode ?? code) });
    this.gauges();
    link.ended(code);
  }

  /** One wheel entry per link covers pings, dead-peer detection, token expiry and close grace. */
  private onTimer(link: Link, now: number): void {
    // a closing link's handshake is bounded by ws itself (closeTimeout, see the adapter)
    if (link.state !== LinkState.OPEN) return;
    if (now >= link.expiresAt) {
      this.closeLink(link, CloseCode.TOKEN_EXPIRED, 'token expired');
      return;
    }
    if (link.missedPongs >= this.maxMissed) {
      this.metrics.heartbeatTimeouts.inc();
      log.debug({ sid: link.id }, 'peer missed its pongs: terminating');
      link.terminate();
      return;
    }
    link.missedPongs++;
    link.ws.ping();
    this.wheel.schedule(link, Math.min(this.heartbeatMs, link.expiresAt - now));
  }

  /**
   * Closes with a handshake; ws drops a peer that does not answer it within its closeTimeout
   * (CLOSE_GRACE_MS in close-codes.ts: a slow consumer that reads its backlog in time sees the close frame).
   */
  closeLink(link: Link, code: number, reason: string): void {
    if (link.state !== LinkState.OPEN) return;
    this.wheel.cancel(link);
    link.close(code, reason);
  }

  /** The token was refreshed: re-arm the timer so the new expiry is honoured. */
  rearm(link: Link): void {
    if (link.state === LinkState.OPEN) this.wheel.schedule(link, Math.min(this.heartbeatMs, link.expiresAt - Date.now()));
  }

  markDirty(link: Link): void {
    this.dirty.push(link);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushAll);
    }
  }

  private readonly flushAll = (): void => {
    this.flushScheduled = false;
    const batch = this.dirty.splice(0);
    for (const link of batch) link.flush();
  };

  onSlow(link: Link): void {
    this.metrics.pushesDropped.inc({ reason: 'slow_consumer' });
    log.info({ sid: link.id, backlog: link.backlogBytes }, 'slow consumer: closing');
    this.closeLink(link, CloseCode.SLOW_CONSUMER, 'slow consumer');
  }

  countOut(frames: number, bytes: number): void {
    this.metrics.framesOut.inc(frames);
    this.metrics.bytesOut.inc(bytes);
  }

  private gauges(): void {
    this.metrics.connections.set(this.registry.size);
    this.metrics.onlineUsers.set(this.registry.userCount);
  }

  /**
   * Moves one link: a `redirect {url, reason}` frame after everything already queued for it, then
   * the close (which flushes the queue first), so the client has seen, in order, every push the
   * link was sent before it reconnects with its cursor; nothing is written to it afterwards.
   * Without a url the link is only closed (the client reconnects through the balancer).
   */
  redirect(link: Link, url: string | undefined, reason: string, code: number): boolean {
    if (link.state !== LinkState.OPEN) return false;
    if (url) link.send({ type: 'redirect', url, reason });
    this.closeLink(link, code, reason);
    return true;
  }

  /**
   * Closes every link with `code` (those a drain's mover did not redirect in time) and waits
   * until all are gone or `timeoutMs` passes; stragglers are terminated.
   */
  async closeAll(code: number, reason: string, timeoutMs: number): Promise<void> {
    for (const link of [...this.registry.all()]) this.closeLink(link, code, reason);
    await withTimeout(this.registry.whenEmpty(), timeoutMs).catch(() => undefined);
    for (const link of [...this.registry.all()]) link.terminate();
  }
}
