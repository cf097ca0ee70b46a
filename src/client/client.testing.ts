import { BaseGatewayClient } from './client';
import type { Clock, GatewayClientOptions, Refusal, TransportHandlers, TransportRequest, TransportSocket } from './types';

/** A clock whose timers run only when the test advances it. */
export class FakeClock implements Clock {
  private t = 1_700_000_000_000;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Moves time forward, running every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
  /** Runs the earliest timer (moving time to it); returns the ms advanced. */
  runNext(): number {
    const due = this.nextDue();
    if (due === undefined) throw new Error('no timer pending');
    this.advance(due);
    return due;
  }
  /** ms until the earliest timer, or undefined */
  nextDue(): number | undefined {
    let min: number | undefined;
    for (const { at } of this.timers.values()) if (min === undefined || at < min) min = at;
    return min === undefined ? undefined : min - this.t;
  }
}

export type SentFrame = { type: string; [k: string]: unknown };

/** One socket the fake transport opened; the test plays the node. */
export class FakeSocket implements TransportSocket {
  readonly sent: SentFrame[] = [];
  ended = false;
  closedWith?: { code?: number; reason?: string };
  constructor(
    readonly request: TransportRequest,
    private readonly handlers: TransportHandlers,
  ) {}
  get url(): URL {
    return new URL(this.request.url);
  }
  send(data: string | Uint8Array): void {
    if (this.ended) throw new Error('socket closed');
    this.sent.push(JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data)) as SentFrame);
  }
  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.serverClose(code ?? 1005, reason ?? '');
  }
  terminate(): void {
    this.serverClose(1006, '');
  }
  // ---- the node's side ----
  frame(f: Record<string, unknown>): void {
    if (!this.ended) this.handlers.message(JSON.stringify(f));
  }
  accept(sid = 's1', node = 'n1', heartbeatMs = 25000): void {
    this.handlers.open('gateway.json');
    this.frame({ type: 'connected', sid, node, heartbeatMs });
  }
  serverClose(code: number, reason = ''): void {
    if (this.ended) return;
    this.ended = true;
    this.handlers.close(code, reason);
  }
  refuse(refusal: Refusal): void {
    if (this.ended) return;
    this.ended = true;
    this.handlers.refused(refusal);
  }
  framesOf(type: string): SentFrame[] {
    return this.sent.filter((f) => f.type === type);
  }
}

/** A client on a fake transport and clock; `sockets` holds every socket it opened, in order. */
export function fakeClient(options: Partial<GatewayClientOptions> = {}) {
  const clock = new FakeClock();
  const sockets: FakeSocket[] = [];
  const client = new BaseGatewayClient(
    {
      url: 'ws://gw.test/ws',
      token: 'static-token',
      clock,
      random: () => 0.5,
      // the fake node never pongs: liveness pings are tested on their own
      pingIntervalMs: false,
      transport: (request, handlers) => {
        const s = new FakeSocket(request, handlers);
        sockets.push(s);
        return s;
      },
      ...options,
    },
    {
      transport: () => {
        throw new Error('no default transport in tests');
      },
      tokenVia: 'header',
    },
  );
  const last = () => sockets[sockets.length - 1];
  return { client, clock, sockets, last };
}

/** An unsigned JWT with `exp` (epoch seconds); the client never verifies. */
export function fakeJwt(claims: Record<string, unknown>): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.sig`;
}

/** Lets pending promise callbacks (an async getToken) run. */
export const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
