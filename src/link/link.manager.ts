import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { Codec } from '../codec/codec';
import { CLIENT_FRAME_TYPES, FrameDecodeError } from '../codec/frame';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { LinkEvents } from '../linkevent/link-events';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import type { Session } from '../session/session';
import { CloseCode, closeReasonLabel } from './close-codes';
import { Link, LinkOwner, LinkState, ResumeCursor } from './link';
import { LinkRegistry } from './link.registry';
import { TimerWheel } from './timer-wheel';

const log = logger('link');

/**
 * How long a closing handshake may take before the socket is dropped. A slow consumer that
 * reads its backlog within this time sees the 4008 close frame; one that does not sees 1006.
 */
const CLOSE_GRACE_MS = 5000;
/** Error-frame codes (docs/protocol.md). */
export const ErrorCode = { BAD_FRAME: 400, UNAUTHORIZED: 401, NOT_ALLOWED: 405, INTERNAL: 500, UNAVAILABLE: 503 } as const;

interface UpgradeContext {
  protocol?: string;
}

/**
 * Owns every link of the node: the ws server (noServer, so the Nest HTTP server stays the
 * host), the shared heartbeat wheel, the per-tick flush, the registry and the metrics edge.
 */
@Injectable()
export class LinkManager implements LinkOwner, OnModuleDestroy {
  readonly registry = new LinkRegistry();
  readonly sendQueueMaxBytes: number;
  private readonly wss: WebSocketServer;
  private readonly wheel: TimerWheel<Link>;
  private readonly dirty: Link[] = [];
  private flushScheduled = false;
  private events!: LinkEvents;
  private readonly heartbeatMs: number;
  private readonly maxMissed: number;

  constructor(
    private readonly config: GatewayConfig,
    private readonly metrics: GatewayMetrics,
  ) {
    this.sendQueueMaxBytes = config.link.sendQueueMaxBytes;
    this.heartbeatMs = config.link.heartbeatMs;
    this.maxMissed = config.link.maxMissedPongs;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: config.link.maxPayloadBytes,
      // a browser that offered only `bearer.<jwt>` must get a protocol back or it drops the
      // connection, so the chosen one is the codec's, else the bearer one it offered
      handleProtocols: (offered, req) => (req as IncomingMessage & UpgradeContext).protocol ?? [...offered].find((p) => p.startsWith('bearer.')) ?? false,
    });
    // fine ticks (1/250 of the heartbeat, 10..100 ms): the links that share a slot are pinged
    // together, and with 1 s ticks the links that connected in the same second (a thousand or
    // more during a connect burst) got their pings in one turn and sent their pongs back at
    // once, a stall of tens of ms every second that showed as push latency. 512 slots cover a
    // heartbeat; longer deadlines wait whole rounds.
    const tickMs = Math.min(100, Math.max(10, Math.floor(this.heartbeatMs / 250)));
    this.wheel = new TimerWheel<Link>(tickMs, 512, (link, now) => this.onTimer(link, now));
    this.wheel.start();
  }

  /** The linkevent chain binds itself here (it depends on this class, so no constructor cycle). */
  bind(events: LinkEvents): void {
    this.events = events;
  }

  onModuleDestroy(): void {
    this.wheel.stop();
    for (const link of this.registry.all()) link.terminate();
  }

  /**
   * Completes an upgrade the upgrader has already admitted. Resolves with the open link, or
   * undefined if the socket went away during the handshake.
   */
  accept(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    session: Session,
    codec: Codec,
    protocol: string | undefined,
    expiresAt: number,
    resumeFrom?: ResumeCursor,
  ): Promise<Link | undefined> {
    (req as IncomingMessage & UpgradeContext).protocol = protocol;
    return new Promise((resolve) => {
      const onGone = () => resolve(undefined);
      socket.once('close', onGone);
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        socket.off('close', onGone);
        resolve(this.open(ws, session, codec, expiresAt, resumeFrom));
      });
    });
  }

  private open(ws: WebSocket, session: Session, codec: Codec, expiresAt: number, resumeFrom?: ResumeCursor): Link {
    const link = new Link(ws, session, codec, expiresAt, this);
    link.resumeFrom = resumeFrom;
    this.registry.add(link);
    this.gauges();
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(link, data, isBinary));
    ws.on('pong', () => (link.missedPongs = 0));
    ws.on('error', (err) => log.debug({ sid: link.id, err: err.message }, 'socket error'));
    ws.once('close', (code: number, reason: Buffer) => this.onClosed(link, code, reason.toString()));
    // the first ping at a random point of the second half of the interval, so the links of a
    // reconnect storm do not stay in step (later pings keep a full heartbeat apart)
    const firstPing = this.heartbeatMs * (0.5 + Math.random() / 2);
    this.wheel.schedule(link, Math.min(firstPing, expiresAt - Date.now()));
    this.events.onOpen(link).then(
      () => {
        if (!link.send({ type: 'connected', sid: session.sid, node: session.node, heartbeatMs: this.heartbeatMs })) return;
        this.events.onReady(link);
      },
      (err: Error) => {
        log.warn({ sid: link.id, err: err.message }, 'link setup failed: closing');
        this.closeLink(link, CloseCode.INTERNAL_ERROR, 'setup failed');
      },
    );
    return link;
  }

  private onMessage(link: Link, data: Buffer, isBinary: boolean): void {
    link.missedPongs = 0;
    this.metrics.bytesIn.inc(data.length);
    let frame;
    try {
      frame = link.codec.decode(data, isBinary);
    } catch (err) {
      const msg = err instanceof FrameDecodeError ? err.message : 'frame could not be decoded';
      this.metrics.badFrames.inc({ reason: 'decode' });
      link.send({ type: 'error', code: ErrorCode.BAD_FRAME, msg });
      return;
    }
    if (!CLIENT_FRAME_TYPES.has(frame.type)) {
      this.metrics.badFrames.inc({ reason: 'type' });
      link.send({ type: 'error', code: ErrorCode.BAD_FRAME, msg: `clients may not send "${frame.type}" frames` });
      return;
    }
    this.metrics.framesIn.inc({ type: frame.type });
    this.events.onFrame(link, frame).catch((err: Error) => {
      log.error({ sid: link.id, type: frame.type, err: err.message }, 'frame handler failed');
      link.send({ type: 'error', code: ErrorCode.INTERNAL, msg: 'internal error' });
    });
  }

  private onClosed(link: Link, code: number, reason: string): void {
    link.state = LinkState.CLOSED;
    this.wheel.cancel(link);
    if (!this.registry.remove(link)) return;
    this.metrics.closes.inc({ reason: closeReasonLabel(link.closeCode ?? code) });
    this.gauges();
    this.events.onClose(link, code, reason);
  }

  /** One wheel entry per link covers pings, dead-peer detection, token expiry and close grace. */
  private onTimer(link: Link, now: number): void {
    if (link.state === LinkState.CLOSED) return;
    if (link.state === LinkState.CLOSING) {
      link.terminate();
      return;
    }
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

  /** Closes with a handshake and arms the grace timer that drops a peer which never answers. */
  closeLink(link: Link, code: number, reason: string): void {
    if (link.state !== LinkState.OPEN) return;
    link.close(code, reason);
    this.wheel.schedule(link, CLOSE_GRACE_MS);
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
   * Closes every link with `code`, after a `redirect` frame when a url is given, and waits
   * until all are gone or `timeoutMs` passes; stragglers are terminated.
   */
  async closeAll(code: number, reason: string, timeoutMs: number, redirectUrl?: string): Promise<void> {
    for (const link of [...this.registry.all()]) {
      if (redirectUrl) link.send({ type: 'redirect', url: redirectUrl, reason });
      this.closeLink(link, code, reason);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.registry.whenEmpty(), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    for (const link of [...this.registry.all()]) link.terminate();
  }
}
