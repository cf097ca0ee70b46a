import { codecFor, ClientCodec } from './codecs';
import type { ClientFrame, ServerFrame } from './frames';
import { tokenExpiry, refreshDelay } from './jwt';
import { afterClose, afterRefusal, Close, Decision, PolicyContext } from './policy';
import {
  Ack,
  ClientEventName,
  ClientEvents,
  ClientState,
  Clock,
  ConnectedInfo,
  Cursor,
  DisconnectInfo,
  GatewayClientError,
  GatewayClientOptions,
  Push,
  RedirectInfo,
  Refusal,
  RequestOptions,
  Transport,
  TransportSocket,
} from './types';
import { redact, webSocketTransport } from './web-transport';

/** What differs between the Node and the browser entry. */
export interface PlatformDefaults {
  transport: () => Transport;
  tokenVia: 'header' | 'query' | 'protocol';
}

interface Pending {
  id: string;
  frame: ClientFrame;
  resolve(ack: Ack): void;
  reject(err: GatewayClientError): void;
  timer: unknown;
  sent: boolean;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

type Listener<E extends ClientEventName> = (...args: ClientEvents[E]) => void;

/**
 * The gateway client, independent of the platform: `index.ts` (Node, over `ws`) and
 * `browser.ts` (the global WebSocket) subclass it with their defaults. One link at a time;
 * it reconnects by itself (docs/client.md "Reconnect policy") and resumes from its cursor.
 */
export class BaseGatewayClient {
  private readonly url: string;
  private readonly codec: ClientCodec;
  private readonly transport: Transport;
  private readonly tokenVia: 'header' | 'query' | 'protocol';
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly label: string;
  private readonly settings: {
    autoAck: boolean;
    minReconnectDelay: number;
    maxReconnectDelay: number;
    maxReconnectAttempts: number;
    tokenRefreshLeadMs: number;
    requestTimeoutMs: number;
    connectTimeoutMs: number;
    pingIntervalMs: number | false | undefined;
    rejoinRooms: boolean;
    followRedirects: boolean;
  };
  private readonly getToken?: () => string | Promise<string>;

  private currentState: ClientState = 'idle';
  private readonly listeners: { [E in ClientEventName]?: Set<Listener<E>> } = {};
  /** bumped for every socket; handlers of an older socket do nothing */
  private generation = 0;
  private socket?: TransportSocket;
  private socketEnded?: Promise<void>;
  private attemptUrl = '';
  private attemptResume: Cursor | null | undefined;
  private lastSocketError?: Error;
  private info?: ConnectedInfo;
  private lastReceivedAt = 0;
  private redirect?: RedirectInfo;
  private position?: Cursor;
  private everConnected = false;
  private attempts = 0;
  private peerFollows = 0;
  /** where the last link was (or a redirect points): tried first on the next reconnect */
  private stickyUrl?: string;
  /** one attempt goes there (a redirect or a refusal's peer) */
  private nextUrl?: string;
  private token?: string;
  private reconnectTimer?: unknown;
  private connectTimer?: unknown;
  private pingTimer?: unknown;
  private refreshTimer?: unknown;
  private readonly pending = new Map<string, Pending[]>();
  private outbox: Pending[] = [];
  private readonly rooms = new Set<string>();
  private connectWaiters: { resolve(info: ConnectedInfo): void; reject(err: GatewayClientError): void }[] = [];
  private nextId = 0;
  private duplicateCount = 0;

  constructor(options: GatewayClientOptions, defaults: PlatformDefaults) {
    if (typeof options?.url !== 'string' || !/^wss?:\/\//.test(options.url)) throw new TypeError('GatewayClient: url must be a ws:// or wss:// URL');
    if (options.token === undefined && options.getToken === undefined) throw new TypeError('GatewayClient: pass token or getToken');
    this.url = options.url;
    this.codec = codecFor(options.codec ?? 'json');
    this.transport = options.transport ?? (options.WebSocket ? webSocketTransport(options.WebSocket) : defaults.transport());
    this.tokenVia = options.tokenVia ?? defaults.tokenVia;
    this.clock = options.clock ?? realClock;
    this.random = options.random ?? Math.random;
    this.label = options.name ?? 'gateway-client';
    this.getToken = options.getToken;
    this.token = options.token;
    this.position = options.cursor ? { ...options.cursor } : undefined;
    const minReconnectDelay = options.minReconnectDelay ?? 500;
    this.settings = {
      autoAck: options.autoAck ?? true,
      minReconnectDelay,
      maxReconnectDelay: Math.max(minReconnectDelay, options.maxReconnectDelay ?? 20000),
      maxReconnectAttempts: options.maxReconnectAttempts ?? Infinity,
      tokenRefreshLeadMs: options.tokenRefreshLeadMs ?? 30000,
      requestTimeoutMs: options.requestTimeoutMs ?? 10000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10000,
      pingIntervalMs: options.pingIntervalMs,
      rejoinRooms: options.rejoinRooms ?? true,
      followRedirects: options.followRedirects ?? true,
    };
  }

  // ---- public API ----------------------------------------------------------------------

  get state(): ClientState {
    return this.currentState;
  }

  /** the `(epoch, seq)` of the last push to the user processed; undefined before any */
  get cursor(): Cursor | undefined {
    return this.position ? { ...this.position } : undefined;
  }

  /** what the current link's `connected` frame said; undefined while not connected */
  get connection(): ConnectedInfo | undefined {
    return this.currentState === 'connected' ? this.info : undefined;
  }

  /** pushes dropped because their seq was not newer than the cursor (a replay repeating what came) */
  get duplicatesDropped(): number {
    return this.duplicateCount;
  }

  get name(): string {
    return this.label;
  }

  /**
   * Starts connecting (if not yet) and resolves at the next `connected`. Rejects if the client
   * stops for good first (401 without getToken, a kick, `close()`); failed attempts are retried.
   */
  connect(): Promise<ConnectedInfo> {
    if (this.currentState === 'closed') return Promise.reject(new GatewayClientError('client_closed', `${this.label}: closed`));
    if (this.currentState === 'connected' && this.info) return Promise.resolve(this.info);
    const p = new Promise<ConnectedInfo>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this.currentState === 'idle') void this.attempt();
    return p;
  }

  /** Closes the link (1000) for good; pending requests reject with `client_closed`. */
  async close(): Promise<void> {
    if (this.currentState === 'closed') return;
    const wasConnected = this.currentState === 'connected';
    const socket = this.socket;
    const ended = this.socketEnded;
    this.detach();
    try {
      socket?.close(Close.NORMAL, 'client closed');
    } catch {
      socket?.terminate();
    }
    this.stop(
      new GatewayClientError('client_closed', `${this.label}: closed by the application`),
      wasConnected ? { code: Close.NORMAL, reason: 'client closed', willReconnect: false } : undefined,
    );
    if (socket && ended) {
      let timer: unknown;
      await Promise.race([ended, new Promise<void>((resolve) => (timer = this.clock.setTimeout(resolve, 2000)))]);
      this.clock.clearTimeout(timer);
      socket.terminate();
    }
  }

  /**
   * Sends `req {id, body}` and resolves with its ack, whatever its code (0 = ok). Made while not
   * connected, it waits for the next link. Rejects with `timeout` when no ack came in time, with
   * `link_closed` when the link closed after it was sent (no ack will come: resend it if it is
   * safe to repeat), with `client_closed` when the client stops.
   */
  request(body: unknown, options: RequestOptions = {}): Promise<Ack> {
    const id = `r${(++this.nextId).toString(36)}`;
    return this.enqueue(id, { type: 'req', id, body }, options.timeoutMs);
  }

  /** Joins a room: resolves with the ack (code 0 ok, 400 bad name, 403 refused). Rejoined after reconnects. */
  async join(room: string, options: RequestOptions = {}): Promise<Ack> {
    const ack = await this.enqueue(`join:${room}`, { type: 'join', room }, options.timeoutMs);
    if (ack.code === 0) this.rooms.add(room);
    return ack;
  }

  async leave(room: string, options: RequestOptions = {}): Promise<Ack> {
    this.rooms.delete(room);
    return this.enqueue(`leave:${room}`, { type: 'leave', room }, options.timeoutMs);
  }

  /** Sends `ack-push {mid}` (with `autoAck: false`); false when not connected. */
  ackPush(mid: string): boolean {
    return this.currentState === 'connected' && this.send({ type: 'ack-push', mid });
  }

  /** Subscribes; returns the unsubscribe function. */
  on<E extends ClientEventName>(event: E, listener: Listener<E>): () => void {
    const set = (this.listeners[event] ??= new Set<Listener<E>>() as (typeof this.listeners)[E]) as Set<Listener<E>>;
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<E extends ClientEventName>(event: E, listener: Listener<E>): void {
    (this.listeners[event] as Set<Listener<E>> | undefined)?.delete(listener);
  }

  once<E extends ClientEventName>(event: E, listener: Listener<E>): () => void {
    const off = this.on(event, (...args: ClientEvents[E]) => {
      off();
      listener(...args);
    });
    return off;
  }

  // ---- connecting ------------------------------------------------------------------------

  private async attempt(): Promise<void> {
    this.reconnectTimer = undefined;
    this.setState('connecting');
    const gen = ++this.generation;
    const url = this.nextUrl ?? this.stickyUrl ?? this.url;
    this.nextUrl = undefined;
    let token: string | undefined;
    try {
      token = this.getToken ? await this.getToken() : this.token;
      if (typeof token !== 'string' || token === '') throw new Error('the token provider gave no token');
    } catch (err) {
      if (gen !== this.generation) return;
      this.emit('error', new GatewayClientError('token', `${this.label}: getToken failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
      this.failedAttempt(() => ({ action: 'reconnect', delayMs: this.backoffNow() }));
      return;
    }
    if (gen !== this.generation) return;
    this.token = token;
    this.attemptUrl = url;
    this.redirect = undefined;
    this.lastSocketError = undefined;
    const u = new URL(url);
    // once a link was up (or with a saved cursor) every link resumes: nothing pushed meanwhile is lost
    this.attemptResume = this.position ? { ...this.position } : this.everConnected ? null : undefined;
    if (this.attemptResume !== undefined) u.searchParams.set('resume', this.attemptResume ? `${this.attemptResume.epoch}:${this.attemptResume.seq}` : '');
    const protocols = [this.codec.protocol];
    const headers: Record<string, string> = {};
    if (this.tokenVia === 'header') headers.Authorization = `Bearer ${token}`;
    else if (this.tokenVia === 'query') u.searchParams.set('token', token);
    else protocols.push(`bearer.${token}`);

    let endSocket!: () => void;
    this.socketEnded = new Promise<void>((resolve) => (endSocket = resolve));
    const mine = () => gen === this.generation;
    this.connectTimer = this.clock.setTimeout(() => {
      if (!mine()) return;
      this.lastSocketError = new Error(`no connected frame within ${this.settings.connectTimeoutMs} ms`);
      this.socket?.terminate();
    }, this.settings.connectTimeoutMs);
    try {
      this.socket = this.transport(
        { url: u.toString(), protocols, headers, handshakeTimeoutMs: this.settings.connectTimeoutMs },
        {
          open: () => undefined,
          message: (data) => {
            if (mine()) this.onMessage(data);
          },
          error: (err) => {
            if (mine()) this.lastSocketError = err;
          },
          close: (code, reason) => {
            endSocket();
            if (mine()) this.onClose(code, reason);
          },
          refused: (refusal) => {
            endSocket();
            if (mine()) this.onRefused(refusal);
          },
        },
      );
    } catch (err) {
      // a bad URL, or a WebSocket constructor that throws (e.g. a SyntaxError on the subprotocol)
      this.lastSocketError = err as Error;
      endSocket();
      this.clearLinkTimers();
      this.emit('error', new GatewayClientError('transport', `${this.label}: cannot open ${redact(u.toString())}: ${(err as Error).message}`, { cause: err }));
      this.failedAttempt(() => ({ action: 'reconnect', delayMs: this.backoffNow() }));
    }
  }

  private policy(): PolicyContext {
    return {
      canRefreshToken: this.getToken !== undefined,
      attempts: this.attempts,
      minDelayMs: this.settings.minReconnectDelay,
      maxDelayMs: this.settings.maxReconnectDelay,
      random: this.random,
    };
  }

  private backoffNow(): number {
    const d = afterClose(Close.ABNORMAL, undefined, this.policy());
    return d.action === 'reconnect' ? d.delayMs : this.settings.maxReconnectDelay;
  }

  private onRefused(refusal: Refusal): void {
    this.socket = undefined;
    this.clearLinkTimers();
    const message = typeof refusal.body === 'object' && refusal.body !== null ? (refusal.body as { message?: unknown }).message : refusal.body;
    this.emit(
      'error',
      new GatewayClientError('refused', `${this.label}: ${redact(this.attemptUrl)} refused the upgrade with HTTP ${refusal.status}: ${String(message ?? '')}`, {
        status: refusal.status,
        body: refusal.body,
      }),
    );
    this.failedAttempt(() => {
      const decision = afterRefusal(refusal, this.peerFollows, this.policy());
      if (decision.action === 'reconnect' && decision.url) this.peerFollows++;
      else this.peerFollows = 0;
      if (decision.action === 'reconnect' && decision.clearCursor) this.position = undefined;
      return decision;
    }, refusal.status);
  }

  /** An attempt ended before `connected`: count it, then decide (the backoff window grows with the count). */
  private failedAttempt(decide: () => Decision, status?: number): void {
    this.attempts++;
    const decision = decide();
    // the node we stuck to is not answering: the next tries go to the configured url
    if (this.attemptUrl === this.stickyUrl) this.stickyUrl = undefined;
    if (decision.action === 'stop') {
      const err = new GatewayClientError('client_closed', `${this.label}: stopped: ${decision.why}`, { status });
      this.stop(err, { code: status ?? Close.ABNORMAL, reason: decision.why, willReconnect: false });
      return;
    }
    this.schedule(decision.delayMs, decision.url);
  }

  private schedule(delayMs: number, url?: string): void {
    if (this.attempts >= this.settings.maxReconnectAttempts) {
      const why = `gave up after ${this.attempts} failed attempts`;
      this.stop(new GatewayClientError('client_closed', `${this.label}: ${why}`), { code: Close.ABNORMAL, reason: why, willReconnect: false });
      return;
    }
    this.nextUrl = url;
    this.setState('disconnected');
    this.reconnectTimer = this.clock.setTimeout(() => void this.attempt(), delayMs);
  }

  private onClose(code: number, reason: string): void {
    this.socket = undefined;
    this.clearLinkTimers();
    const wasConnected = this.currentState === 'connected';
    if (!wasConnected) {
      const why = this.lastSocketError?.message ?? `closed with ${code}${reason ? ` (${reason})` : ''} before connected`;
      this.emit('error', new GatewayClientError('transport', `${this.label}: connecting to ${redact(this.attemptUrl)} failed: ${why}`, { closeCode: code }));
      this.failedAttempt(() => afterClose(code, this.redirect?.url, this.policy()));
      return;
    }
    this.failSent();
    const redirect = this.redirect;
    const decision = afterClose(code, redirect?.url, this.policy());
    if (!redirect && (code === Close.GOING_AWAY || code === Close.MOVED)) this.stickyUrl = undefined;
    if (decision.action === 'stop') {
      this.stop(new GatewayClientError('client_closed', `${this.label}: ${decision.why}${reason ? `: ${reason}` : ''}`, { closeCode: code }), {
        code,
        reason,
        willReconnect: false,
      });
      return;
    }
    this.emit('disconnected', { code, reason, willReconnect: true, delayMs: decision.delayMs });
    if (this.currentState === 'closed') return; // a listener called close()
    this.schedule(decision.delayMs, decision.url);
  }

  /** Closed for good: reject everything waiting. */
  private stop(err: GatewayClientError, info: DisconnectInfo | undefined): void {
    this.detach();
    for (const list of this.pending.values()) for (const p of list) this.settle(p, err);
    this.pending.clear();
    this.outbox = [];
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    this.setState('closed');
    for (const w of waiters) w.reject(err);
    if (info) this.emit('disconnected', info);
  }

  /** Forgets the current socket and every timer. */
  private detach(): void {
    this.generation++;
    this.socket = undefined;
    this.clearLinkTimers();
    if (this.reconnectTimer !== undefined) this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  private clearLinkTimers(): void {
    for (const t of [this.connectTimer, this.pingTimer, this.refreshTimer]) if (t !== undefined) this.clock.clearTimeout(t);
    this.connectTimer = this.pingTimer = this.refreshTimer = undefined;
  }

  // ---- frames ----------------------------------------------------------------------------

  private onMessage(data: string | Uint8Array): void {
    let frame: ServerFrame | undefined;
    try {
      frame = this.codec.decode(data);
    } catch (err) {
      this.emit('error', new GatewayClientError('decode', `${this.label}: undecodable frame: ${(err as Error).message}`, { cause: err }));
      return;
    }
    this.lastReceivedAt = this.clock.now();
    if (!frame) return; // a frame type this client does not know
    switch (frame.type) {
      case 'connected':
        return this.onConnected(frame);
      case 'ack':
        return this.onAck(frame.id, { code: frame.code, ...(frame.body !== undefined ? { body: frame.body } : {}), ...(frame.msg ? { msg: frame.msg } : {}) });
      case 'push':
        return this.onPush(frame);
      case 'resync': {
        const previous = this.position;
        // no epoch: the user has no stored stream at all (yet); the next link resumes from everything stored
        this.position = frame.epoch ? { epoch: frame.epoch, seq: frame.seq } : undefined;
        this.emit('resync', { reason: frame.reason, epoch: frame.epoch, seq: frame.seq, ...(previous ? { previous } : {}) });
        return;
      }
      case 'redirect':
        // not following: the move still happens at once, through the configured url (a balancer picks a live node)
        this.redirect = { url: this.settings.followRedirects ? frame.url : this.url, reason: frame.reason };
        this.emit('redirect', { url: frame.url, reason: frame.reason });
        return;
      case 'error':
        this.emit(
          'error',
          new GatewayClientError('server_error', `${this.label}: the node refused a frame: ${frame.code} ${frame.msg}`, { serverCode: frame.code }),
        );
        return;
      case 'pong':
        return;
    }
  }

  private onConnected(frame: Extract<ServerFrame, { type: 'connected' }>): void {
    if (this.connectTimer !== undefined) this.clock.clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.attempts = 0;
    this.peerFollows = 0;
    this.everConnected = true;
    this.stickyUrl = this.attemptUrl;
    const info: ConnectedInfo = { sid: frame.sid, node: frame.node, heartbeatMs: frame.heartbeatMs, url: this.attemptUrl };
    if (this.attemptResume !== undefined) info.resumedFrom = this.attemptResume;
    this.info = info;
    this.setState('connected');
    this.emit('connected', { ...info });
    if (this.currentState !== 'connected') return; // a listener closed the client
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const w of waiters) w.resolve({ ...info });
    if (this.settings.rejoinRooms) for (const room of this.rooms) this.rejoin(room);
    const outbox = this.outbox;
    this.outbox = [];
    for (const p of outbox) this.transmit(p);
    this.scheduleRefresh();
    const interval = this.settings.pingIntervalMs === false ? 0 : (this.settings.pingIntervalMs ?? frame.heartbeatMs);
    if (interval > 0) this.schedulePing(interval);
  }

  private rejoin(room: string): void {
    this.enqueue(`join:${room}`, { type: 'join', room }).then(
      (ack) => {
        if (ack.code === 0) return;
        this.rooms.delete(room);
        this.emit(
          'error',
          new GatewayClientError('server_error', `${this.label}: rejoining room ${room} got ${ack.code} ${ack.msg ?? ''}`, { serverCode: ack.code }),
        );
      },
      () => undefined, // the link went again: the next link rejoins
    );
  }

  private onPush(frame: Extract<ServerFrame, { type: 'push' }>): void {
    if (frame.epoch !== undefined && frame.seq !== undefined) {
      const c = this.position;
      if (c && c.epoch === frame.epoch && frame.seq <= c.seq) {
        // a replay repeating what an earlier link delivered: already processed
        this.duplicateCount++;
        return;
      }
      this.position = { epoch: frame.epoch, seq: frame.seq };
    }
    const push: Push = { mid: frame.mid, body: frame.body };
    if (frame.room !== undefined) push.room = frame.room;
    if (frame.seq !== undefined) push.seq = frame.seq;
    if (frame.epoch !== undefined) push.epoch = frame.epoch;
    const gen = this.generation;
    this.emit('push', push);
    if (this.settings.autoAck && gen === this.generation && this.currentState === 'connected') this.send({ type: 'ack-push', mid: frame.mid });
  }

  private onAck(id: string, ack: Ack): void {
    const list = this.pending.get(id);
    const p = list?.shift();
    if (!p) return; // timed out already
    if (list!.length === 0) this.pending.delete(id);
    this.clock.clearTimeout(p.timer);
    p.resolve(ack);
  }

  // ---- requests --------------------------------------------------------------------------

  private enqueue(id: string, frame: ClientFrame, timeoutMs = this.settings.requestTimeoutMs): Promise<Ack> {
    if (this.currentState === 'closed') return Promise.reject(new GatewayClientError('client_closed', `${this.label}: closed`, { requestId: id }));
    return new Promise<Ack>((resolve, reject) => {
      const p: Pending = { id, frame, resolve, reject, timer: undefined, sent: false };
      p.timer = this.clock.setTimeout(() => {
        this.forget(p);
        reject(new GatewayClientError('timeout', `${this.label}: no ack for ${id} within ${timeoutMs} ms`, { requestId: id }));
      }, timeoutMs);
      const list = this.pending.get(id);
      if (list) list.push(p);
      else this.pending.set(id, [p]);
      if (this.currentState === 'connected') this.transmit(p);
      else this.outbox.push(p);
    });
  }

  private transmit(p: Pending): void {
    p.sent = this.send(p.frame);
    if (!p.sent) this.outbox.push(p);
  }

  private forget(p: Pending): void {
    const list = this.pending.get(p.id);
    if (list) {
      const i = list.indexOf(p);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.pending.delete(p.id);
    }
    const j = this.outbox.indexOf(p);
    if (j >= 0) this.outbox.splice(j, 1);
  }

  private settle(p: Pending, err: GatewayClientError): void {
    this.clock.clearTimeout(p.timer);
    p.reject(new GatewayClientError(err.code, `${err.message} (${p.id} had no ack)`, { ...err.details, requestId: p.id }));
  }

  /** The link closed: requests sent on it get no ack; those not sent yet wait for the next link. */
  private failSent(): void {
    for (const [id, list] of [...this.pending]) {
      const keep = list.filter((p) => !p.sent);
      for (const p of list)
        if (p.sent) this.settle(p, new GatewayClientError('link_closed', `${this.label}: the link closed before the ack came; resend if it is safe to repeat`));
      if (keep.length) this.pending.set(id, keep);
      else this.pending.delete(id);
    }
  }

  private send(frame: ClientFrame): boolean {
    const socket = this.socket;
    if (!socket) return false;
    try {
      socket.send(this.codec.encode(frame));
      return true;
    } catch (err) {
      this.emit('error', new GatewayClientError('transport', `${this.label}: send failed: ${(err as Error).message}`, { cause: err }));
      return false;
    }
  }

  // ---- token refresh and liveness ----------------------------------------------------------

  private scheduleRefresh(): void {
    if (!this.getToken || this.token === undefined) return;
    const exp = tokenExpiry(this.token);
    if (exp === undefined) return;
    const gen = this.generation;
    const delay = refreshDelay(exp, this.clock.now(), this.settings.tokenRefreshLeadMs);
    this.refreshTimer = this.clock.setTimeout(() => void this.refresh(gen, exp), delay);
  }

  private async refresh(gen: number, oldExp: number): Promise<void> {
    this.refreshTimer = undefined;
    const old = this.token;
    let token: string;
    try {
      token = await this.getToken!();
      if (typeof token !== 'string' || token === '') throw new Error('the token provider gave no token');
    } catch (err) {
      if (gen !== this.generation) return;
      this.emit('error', new GatewayClientError('token', `${this.label}: token refresh failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
      // try again half-way to the expiry; past it the node closes with 4001 and the reconnect gets a fresh token
      const left = oldExp - this.clock.now();
      if (left > 1000) this.refreshTimer = this.clock.setTimeout(() => void this.refresh(gen, oldExp), left / 2);
      return;
    }
    if (gen !== this.generation || this.currentState !== 'connected') return;
    // the same token again: nothing to extend; the node closes with 4001 at its exp and the reconnect asks again
    if (token === old) return;
    this.token = token;
    this.send({ type: 'token', token });
    this.scheduleRefresh();
  }

  private schedulePing(interval: number): void {
    this.lastReceivedAt = this.clock.now();
    const gen = this.generation;
    const tick = () => {
      if (gen !== this.generation) return;
      if (this.clock.now() - this.lastReceivedAt >= 2 * interval) {
        this.lastSocketError = new Error(`nothing received for ${2 * interval} ms`);
        const socket = this.socket;
        socket?.terminate();
        return;
      }
      this.send({ type: 'ping', ts: this.clock.now() });
      this.pingTimer = this.clock.setTimeout(tick, interval);
    };
    this.pingTimer = this.clock.setTimeout(tick, interval);
  }

  // ---- events ----------------------------------------------------------------------------

  private setState(next: ClientState): void {
    const prev = this.currentState;
    if (prev === next) return;
    this.currentState = next;
    this.emit('state', next, prev);
  }

  private emit<E extends ClientEventName>(event: E, ...args: ClientEvents[E]): void {
    const set = this.listeners[event] as Set<Listener<E>> | undefined;
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        if (event === 'error') continue;
        this.emit(
          'error',
          new GatewayClientError('listener', `${this.label}: a "${event}" listener threw: ${(err as Error)?.message ?? String(err)}`, { cause: err }),
        );
      }
    }
  }
}
