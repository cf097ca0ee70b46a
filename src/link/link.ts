import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Codec } from '../codec/codec';
import type { Frame } from '../codec/frame';
import type { Session } from '../session/session';
import type { WheelEntry } from './timer-wheel';
import { SharedFrame, wsFrame } from './ws-frame';

/** A cursor the client gave on the upgrade URL (`?resume=<epoch>:<seq>`, or `?resume=` for all). */
export interface ResumeCursor {
  epoch?: string;
  seq: number;
}

export const enum LinkState {
  OPEN = 0,
  CLOSING = 1,
  CLOSED = 2,
}

/** What a link needs from the node that owns it; implemented by LinkManager. */
export interface LinkOwner {
  readonly sendQueueMaxBytes: number;
  /** marks the link for the next coalesced flush */
  markDirty(link: Link): void;
  onSlow(link: Link): void;
  countOut(frames: number, bytes: number): void;
}

/**
 * One client connection. Writes are queued and flushed once per event-loop turn (corked), so
 * a burst of pushes costs one syscall; a link whose backlog (our queue plus the socket's)
 * passes the bound is closed with 4008 rather than growing memory without limit.
 * Only link/ touches a socket; of it, only this class writes to one.
 */
export class Link implements WheelEntry {
  state = LinkState.OPEN;
  wheelSlot = -1;
  wheelRounds = 0;
  /** pings sent since the peer was last heard from */
  missedPongs = 0;
  /** uplink requests waiting for their ack (the request handler counts them; the mover prefers links with none) */
  inflight = 0;
  /** replayed before any live push when the client asked on the upgrade URL */
  resumeFrom?: ResumeCursor;
  /** the code this side closed with, if it started the close (the peer may only see 1006) */
  closeCode?: number;
  /** the close code ws reported as the link ended (the handshake's code, or 1006 without one) */
  endCode?: number;
  /** epoch ms after which the link closes with 4001 unless a `token` frame extends it */
  expiresAt: number;

  /** complete WebSocket frames waiting for the next flush */
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  /** what runs once the link is gone (Nest's disconnect handler) */
  private whenEnded?: () => void;
  private readonly socket: Socket;

  constructor(
    readonly ws: WebSocket,
    /**
     * the TCP socket the upgrade came on (the one handed to ws's handleUpgrade): pushes are
     * written to it directly as whole frames, so a push framed once goes to every link as the
     * same bytes (ws.send would frame it again per socket)
     */
    socket: Duplex,
    readonly session: Session,
    readonly codec: Codec,
    expiresAt: number,
    private readonly owner: LinkOwner,
  ) {
    this.expiresAt = expiresAt;
    this.socket = socket as Socket;
  }

  /** `fn` runs once when the link is gone (any reason), after it left the registry */
  onClosed(fn: () => void): void {
    const before = this.whenEnded;
    this.whenEnded = before
      ? () => {
          before();
          fn();
        }
      : fn;
  }

  /** called by the link manager once, when the socket closed */
  ended(code: number): void {
    this.state = LinkState.CLOSED;
    this.endCode = code;
    const fn = this.whenEnded;
    this.whenEnded = undefined;
    fn?.();
  }

  get id(): string {
    return this.session.sid;
  }

  /** bytes waiting to reach the peer: our queue plus what the socket has buffered */
  get backlogBytes(): number {
    return this.queuedBytes + this.ws.bufferedAmount;
  }

  send(frame: Frame): boolean {
    return this.sendFrame(wsFrame(this.codec.encode(frame), this.codec.binary));
  }

  /** Queues the link's codec's copy of a frame shared by many links (framed once per codec). */
  sendShared(frame: SharedFrame): boolean {
    return this.sendFrame(frame.for(this.codec));
  }

  /**
   * Queues a complete WebSocket frame (wsFrame), which may be shared: a push is framed once
   * and the same buffer goes to every link. Returns false when the link is closed or was just
   * closed as a slow consumer.
   */
  sendFrame(frame: Buffer): boolean {
    if (this.state !== LinkState.OPEN) return false;
    const size = frame.length;
    if (this.backlogBytes + size > this.owner.sendQueueMaxBytes) {
      this.owner.onSlow(this);
      return false;
    }
    if (this.queue.length === 0) this.owner.markDirty(this);
    this.queue.push(frame);
    this.queuedBytes += size;
    return true;
  }

  /** Writes everything queued: one write for one frame, one corked writev for several. */
  flush(): void {
    const queue = this.queue;
    if (queue.length === 0) return;
    this.queue = [];
    const bytes = this.queuedBytes;
    this.queuedBytes = 0;
    const socket = this.socket;
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (queue.length === 1) socket.write(queue[0]);
    else {
      socket.cork();
      for (const frame of queue) socket.write(frame);
      socket.uncork();
    }
    this.owner.countOut(queue.length, bytes);
  }

  /**
   * Flushes the queue now and resolves once the socket has written its buffer out (or the
   * link is gone), so a producer of many frames (a resume) can keep the backlog bounded.
   */
  drained(): Promise<void> {
    this.flush();
    const socket = this.socket;
    if (this.state !== LinkState.OPEN || socket.writableLength === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  /** Flushes what is queued, then starts the closing handshake. */
  close(code: number, reason: string): void {
    if (this.state !== LinkState.OPEN) return;
    this.flush();
    this.state = LinkState.CLOSING;
    this.closeCode = code;
    this.ws.close(code, reason.slice(0, 120));
  }

  /** Drops the connection without a handshake (dead peer, or a close that did not complete). */
  terminate(): void {
    this.state = LinkState.CLOSING;
    this.queue = [];
    this.queuedBytes = 0;
    this.ws.terminate();
  }
}
