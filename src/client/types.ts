/**
 * Public types of the client SDK (Node and browser). Nothing here depends on Node or DOM types:
 * the SDK declares the little of WebSocket it needs (see `WebSocketConstructor`).
 */

export type CodecName = 'json' | 'protobuf';

/**
 * - `idle`: created, `connect()` not called yet
 * - `connecting`: an attempt is under way (token, upgrade, waiting for the `connected` frame)
 * - `connected`: the `connected` frame came; pushes flow, requests are sent
 * - `disconnected`: the link is gone and a reconnect is scheduled
 * - `closed`: for good (`close()`, a kick, a token error without `getToken`, a refusal that will not change)
 */
export type ClientState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

/** Where a user's push stream stands: the `(epoch, seq)` of the last push processed. */
export interface Cursor {
  epoch: string;
  seq: number;
}

/** A push from a backend. Pushes to a user carry `seq` and `epoch`; room and biz-wide pushes do not. */
export interface Push {
  mid: string;
  body: unknown;
  room?: string;
  seq?: number;
  epoch?: string;
}

/** The answer to a `request()`: `code` 0 is ok; other codes are in docs/protocol.md ("ack codes"). */
export interface Ack {
  code: number;
  body?: unknown;
  msg?: string;
}

export interface ConnectedInfo {
  sid: string;
  node: string;
  heartbeatMs: number;
  /** the URL this link was opened on (the configured one, a redirect's, or a refusal's peer) */
  url: string;
  /** the cursor passed as `?resume=` on this link; `null` for "everything stored"; undefined: none sent */
  resumedFrom?: Cursor | null;
}

export interface DisconnectInfo {
  /** the close code (see docs/client.md "Reconnect policy"); 1006 when the connection just went */
  code: number;
  reason: string;
  /** false: the client is `closed` now and will not reconnect by itself */
  willReconnect: boolean;
  /** when it reconnects: in how many ms */
  delayMs?: number;
}

export interface ResyncInfo {
  /** `epoch_changed` or `gap_too_old` (docs/protocol.md "Mailbox and resume") */
  reason: string;
  epoch: string;
  seq: number;
  /** the cursor before the resync: everything after it up to `(epoch, seq)` is lost */
  previous?: Cursor;
}

export interface RedirectInfo {
  url: string;
  reason: string;
}

export type ClientErrorCode =
  /** a request (or join/leave) got no ack within its timeout */
  | 'timeout'
  /** the link closed while a request waited for its ack: no ack will come; resend if safe to repeat */
  | 'link_closed'
  /** `close()` was called, or the client stopped for good */
  | 'client_closed'
  /** the node refused the upgrade with an HTTP status (Node only: browsers cannot see it) */
  | 'refused'
  /** an `error {code,msg}` frame from the node */
  | 'server_error'
  /** the getToken provider failed, or the token was refused */
  | 'token'
  /** the socket failed (connection refused, reset, handshake timeout) */
  | 'transport'
  /** a frame could not be decoded */
  | 'decode'
  /** an event listener threw */
  | 'listener';

export class GatewayClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly details: { status?: number; serverCode?: number; closeCode?: number; body?: unknown; requestId?: string; cause?: unknown } = {},
  ) {
    super(message);
    this.name = 'GatewayClientError';
  }
}

/** Event name -> listener arguments. */
export interface ClientEvents {
  push: [push: Push];
  connected: [info: ConnectedInfo];
  disconnected: [info: DisconnectInfo];
  resync: [info: ResyncInfo];
  redirect: [info: RedirectInfo];
  error: [error: GatewayClientError];
  state: [state: ClientState, previous: ClientState];
}
export type ClientEventName = keyof ClientEvents;

/** Timers and the clock, injectable for tests. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What a transport is asked to open. */
export interface TransportRequest {
  url: string;
  protocols: string[];
  /** only transports that can set headers (Node's `ws`) honour these */
  headers: Record<string, string>;
  handshakeTimeoutMs: number;
}

/** An HTTP refusal of the upgrade (status, headers, parsed JSON body), as only Node can see it. */
export interface Refusal {
  status: number;
  /** `Retry-After` in ms, when the response carried one */
  retryAfterMs?: number;
  body: unknown;
}

/** Callbacks of one socket. `close` or `refused` comes exactly once, last. */
export interface TransportHandlers {
  open(protocol: string): void;
  message(data: string | Uint8Array): void;
  close(code: number, reason: string): void;
  refused(refusal: Refusal): void;
  error(error: Error): void;
}

export interface TransportSocket {
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** drop the connection without a closing handshake */
  terminate(): void;
}

/** Opens one socket. The SDK ships one over `ws` (Node) and one over any WHATWG WebSocket. */
export type Transport = (request: TransportRequest, handlers: TransportHandlers) => TransportSocket;

/**
 * The part of a WHATWG WebSocket the SDK uses. Handler parameters are typed `never` so that
 * the DOM's `WebSocket`, `ws`'s and Node 22's global one all fit without DOM types here.
 */
export interface WebSocketLike {
  readonly protocol: string;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}
export interface WebSocketConstructor {
  new (url: string, protocols?: string | string[]): WebSocketLike;
}

export interface GatewayClientOptions {
  /** `ws://<node or balancer>/ws` */
  url: string;
  /** a fixed token; without `getToken` the client cannot refresh it nor reconnect after 4001/4002 */
  token?: string;
  /** a token provider: called for every connection attempt and before the token's `exp` */
  getToken?: () => string | Promise<string>;
  /** default `json` */
  codec?: CodecName;
  /** a label for this client in errors and logs (the display name the gateway shows is the token's `name` claim) */
  name?: string;
  /** send `ack-push {mid}` after the push listeners ran; default true (false: call `ackPush(mid)`) */
  autoAck?: boolean;
  /** backoff floor, ms; default 500 */
  minReconnectDelay?: number;
  /** backoff ceiling, ms; default 20000 */
  maxReconnectDelay?: number;
  /** consecutive failed attempts before the client gives up (`closed`); default Infinity */
  maxReconnectAttempts?: number;
  /** how the token travels; default `header` in Node, `protocol` (subprotocol `bearer.<jwt>`) in browsers */
  tokenVia?: 'header' | 'query' | 'protocol';
  /** refresh a provider's token this long before its `exp` (at most half its remaining life); default 30000 */
  tokenRefreshLeadMs?: number;
  /** default timeout of `request()`, `join()`, `leave()`; default 10000 */
  requestTimeoutMs?: number;
  /** an attempt that has no `connected` frame within this is dropped and retried; default 10000 */
  connectTimeoutMs?: number;
  /**
   * app-level `ping` every this many ms; a link that receives nothing for two intervals is
   * dropped and reconnected. Default: the node's `heartbeatMs`; `false` turns it off.
   */
  pingIntervalMs?: number | false;
  /** start from a cursor saved earlier (e.g. in localStorage): the first link resumes after it */
  cursor?: Cursor;
  /** re-send `join` for the rooms joined on this client after each reconnect; default true */
  rejoinRooms?: boolean;
  /**
   * a `redirect {url}` (the node is moving this link) sends the next attempt to that url; false:
   * to the configured url instead, still at once (for clients that must always go through a
   * balancer, which then picks a running node). Default true
   */
  followRedirects?: boolean;
  /** a WHATWG WebSocket class to use (default: `ws` in Node, the global `WebSocket` in browsers) */
  WebSocket?: WebSocketConstructor;
  /** a lower-level transport (tests, custom stacks); wins over `WebSocket` */
  transport?: Transport;
  /** for tests */
  clock?: Clock;
  /** for tests: a source of [0, 1) numbers for the jitter; default Math.random */
  random?: () => number;
}

export interface RequestOptions {
  /** default: the client's `requestTimeoutMs` */
  timeoutMs?: number;
}
