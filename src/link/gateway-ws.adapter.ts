import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isObservable, type Observable } from 'rxjs';
import { WebSocketServer } from 'ws';
import { CLIENT_FRAME_TYPES, Frame, FrameDecodeError, FrameType } from '../codec/frame';
import { frameProblem } from '../codec/frame-limits';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { Admission } from './admission';
import { CLOSE_GRACE_MS } from './close-codes';
import { Link, LinkState } from './link';
import { Admitted, ErrorCode, LinkManager } from './link.manager';
import { LinkServer } from './link-server';
import { refuse } from './refuse';

const log = logger('link');

interface UpgradeContext {
  /** the subprotocol admission chose (the codec's); read by handleProtocols */
  gatewayProtocol?: string;
}

type Handler = (frame: Frame, type: string) => unknown;
type Transform = (result: unknown) => Observable<unknown>;

/**
 * The WebSocket side of Nest (`@nestjs/platform-ws`), made to serve a gateway node:
 * - the `ws` server runs with noServer on the gateway port's own HTTP server (LinkServer), at
 *   our path; every admission check (Admission, the upgrader) runs before the upgrade, and a
 *   refusal is an HTTP status with a JSON body;
 * - the client Nest sees (`@ConnectedSocket()`) is our `Link`, not the ws socket, so handlers
 *   answer through the link's coalesced write path;
 * - frames are parsed by the link's own codec (JSON or protobuf, chosen at the upgrade), and a
 *   link's frames are dispatched one at a time in arrival order: Nest's WsAdapter uses
 *   `mergeMap`, which starts a frame's handler before the previous one finished;
 * - refused, undecodable and server-only frames get an `error` frame here, before any handler.
 */
export class GatewayWsAdapter extends WsAdapter {
  constructor(private readonly app: INestApplicationContext) {
    super(app);
  }

  private get<T>(token: abstract new (...args: never[]) => T): T {
    return this.app.get(token as never, { strict: false }) as T;
  }

  override create(): WebSocketServer {
    const config = this.get(GatewayConfig);
    const wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: config.link.maxPayloadBytes,
      closeTimeout: CLOSE_GRACE_MS,
      // a browser that offered only `bearer.<jwt>` must get a protocol back or it drops the
      // connection, so the chosen one is the codec's, else the bearer one it offered
      handleProtocols: (offered, req) =>
        (req as IncomingMessage & UpgradeContext).gatewayProtocol ?? [...offered].find((p) => p.startsWith('bearer.')) ?? false,
    } as ConstructorParameters<typeof WebSocketServer>[0]);
    const upgrades = new Upgrades(wss, this.get(Admission), this.get(LinkManager), this.get(GatewayMetrics));
    this.get(LinkServer).http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => upgrades.handle(req, socket, head));
    return wss;
  }

  override bindClientConnect(server: WebSocketServer, callback: (link: Link) => void): void {
    server.on('connection', callback as never);
  }

  override bindClientDisconnect(link: Link, callback: () => void): void {
    link.onClosed(callback);
  }

  /** what every link's inbox shares (looked up once, not kept per link) */
  private shared?: InboxShared;

  override bindMessageHandlers(link: Link, handlers: MessageMappingProperties[], transform: Transform): void {
    // only the callbacks are kept (Nest binds them to this link), in one small array indexed by
    // frame type: Nest's own array of {message, callback} objects would cost ~400 bytes a link
    this.shared ??= { links: this.get(LinkManager), metrics: this.get(GatewayMetrics), transform };
    const table: (Handler | undefined)[] = new Array(HANDLED_TYPES.length);
    for (const h of handlers) {
      const i = HANDLED_TYPES.indexOf(h.message as FrameType);
      if (i >= 0) table[i] = h.callback as Handler;
    }
    const inbox = new FrameInbox(link, table, this.shared);
    link.ws.on('message', (data: Buffer, isBinary: boolean) => inbox.receive(data, isBinary));
  }

  override async close(server: WebSocketServer): Promise<void> {
    await new Promise((resolve) => server.close(resolve));
  }

  override async dispose(): Promise<void> {
    // the gateway port's HTTP server is LinkServer's, closed by the lifecycle
  }
}

function onSocketError(err: Error): void {
  log.debug({ err: err.message }, 'upgrade socket error');
}

/** HTTP -> WebSocket: admission decides, then the refusal is written or the handshake completed. */
class Upgrades {
  constructor(
    private readonly wss: WebSocketServer,
    private readonly admission: Admission,
    private readonly links: LinkManager,
    private readonly metrics: GatewayMetrics,
  ) {}

  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // a function of its own, not a closure here: a listener made in this scope would keep the
    // request and its head buffer alive for the link's whole life (~1 KiB a link)
    socket.on('error', onSocketError);
    this.admission.admit(req).then(
      (decision) => {
        if (!decision.ok) {
          refuse(socket, decision.refusal);
          this.metrics.upgrades.inc({ result: decision.result });
        } else this.complete(req, socket, head, decision.admitted);
      },
      (err: Error) => {
        log.error({ err: err.message }, 'upgrade failed');
        this.metrics.upgrades.inc({ result: 'unavailable' });
        refuse(socket, { status: 500, error: 'internal', message: 'upgrade failed' });
      },
    );
  }

  private complete(req: IncomingMessage, socket: Duplex, head: Buffer, admitted: Admitted): void {
    (req as IncomingMessage & UpgradeContext).gatewayProtocol = admitted.protocol;
    const onGone = () => {
      this.metrics.upgrades.inc({ result: 'aborted' });
      this.admission.abandon(admitted).catch(() => undefined);
    };
    socket.once('close', onGone);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('close', onGone);
      const link = this.links.open(ws, socket, admitted);
      this.metrics.upgrades.inc({ result: 'ok' });
      // Nest's connection handler: the gateway's handleConnection, then bindMessageHandlers
      this.wss.emit('connection', link);
    });
  }
}

/** the frame types a handler may be bound to: the ones clients may send */
const HANDLED_TYPES: readonly FrameType[] = [...CLIENT_FRAME_TYPES];

/** frames waiting behind a running handler past which the link's socket is paused */
const INBOX_PAUSE_AT = 64;

/** An outgoing answer queued in order with the frames around it (a frame refused before dispatch). */
interface Refused {
  refused: Frame;
}

/**
 * One link's inbound frames, dispatched to the Nest handlers one at a time in arrival order: a
 * handler's result (promise or observable) completes before the next frame's handler starts.
 * A handler that returns a frame has it sent on the link. Frames that arrive meanwhile wait in
 * order; past INBOX_PAUSE_AT the socket stops being read until they are handled, so a client
 * that sends faster than its frames are handled is slowed by TCP rather than growing memory.
 */
interface InboxShared {
  links: LinkManager;
  metrics: GatewayMetrics;
  /** Nest's result transform (the same function for every link of the gateway) */
  transform: Transform;
}

class FrameInbox {
  private busy = false;
  private paused = false;
  private queue?: (Frame | Refused)[];

  constructor(
    private readonly link: Link,
    /** the handler of HANDLED_TYPES[i] at i */
    private readonly handlers: readonly (Handler | undefined)[],
    private readonly shared: InboxShared,
  ) {}

  private get metrics(): GatewayMetrics {
    return this.shared.metrics;
  }

  private handler(type: FrameType): Handler | undefined {
    return this.handlers[HANDLED_TYPES.indexOf(type)];
  }

  receive(data: Buffer, isBinary: boolean): void {
    this.shared.links.heard(this.link, data.length);
    const item = this.parse(data, isBinary);
    if (!this.busy) return this.run(item);
    const queue = (this.queue ??= []);
    queue.push(item);
    if (queue.length >= INBOX_PAUSE_AT && !this.paused) {
      this.paused = true;
      this.link.ws.pause();
    }
  }

  private parse(data: Buffer, isBinary: boolean): Frame | Refused {
    let frame: Frame;
    try {
      frame = this.link.codec.decode(data, isBinary);
    } catch (err) {
      this.metrics.badFrames.inc({ reason: 'decode' });
      const msg = err instanceof FrameDecodeError ? err.message : 'frame could not be decoded';
      return { refused: { type: 'error', code: ErrorCode.BAD_FRAME, msg } };
    }
    if (!CLIENT_FRAME_TYPES.has(frame.type)) {
      this.metrics.badFrames.inc({ reason: 'type' });
      return { refused: { type: 'error', code: ErrorCode.BAD_FRAME, msg: `clients may not send "${frame.type}" frames` } };
    }
    const problem = frameProblem(frame);
    if (problem) {
      this.metrics.badFrames.inc({ reason: 'limit' });
      return { refused: { type: 'error', code: ErrorCode.BAD_FRAME, msg: problem } };
    }
    this.metrics.framesIn.inc({ type: frame.type });
    return frame;
  }

  /** handles `item` and then whatever waits, until a handler is still running (a loop, not recursion) */
  private run(item: Frame | Refused | undefined): void {
    this.busy = true;
    while (item) {
      if (this.link.state === LinkState.CLOSED) break;
      if (this.start(item)) return;
      item = this.queue?.shift();
    }
    this.queue = undefined;
    this.busy = false;
    if (this.paused) {
      this.paused = false;
      this.link.ws.resume();
    }
  }

  /** true when the handler is still running: it resumes the inbox when it completes */
  private start(item: Frame | Refused): boolean {
    if ('refused' in item) {
      this.link.send(item.refused);
      return false;
    }
    const handler = this.handler(item.type);
    if (!handler) {
      this.link.send({ type: 'error', code: ErrorCode.NOT_ALLOWED, msg: `"${item.type}" frames are not supported by this node yet` });
      return false;
    }
    let starting = true;
    let doneWhileStarting = false;
    const done = () => {
      if (starting) doneWhileStarting = true;
      else this.run(this.queue?.shift());
    };
    const observer = {
      next: (reply: unknown) => {
        if (reply !== undefined && reply !== null) this.link.send(reply as Frame);
      },
      error: (err: unknown) => {
        this.failed(item, err);
        done();
      },
      complete: done,
    };
    try {
      const result = handler(item, item.type);
      // Nest's handler wrapper returns a promise of the handler's result (a value, a promise or
      // an observable). Taking it as it comes does what the `transform` Nest passes does
      // (from(promise) + mergeAll) without building two observables per frame; anything else
      // goes through `transform`.
      if (result instanceof Promise) {
        result.then((value: unknown) => {
          if (isObservable(value)) value.subscribe(observer);
          else {
            observer.next(value);
            done();
          }
        }, observer.error);
      } else this.shared.transform(result).subscribe(observer);
    } catch (err) {
      this.failed(item, err);
      doneWhileStarting = true;
    }
    starting = false;
    return !doneWhileStarting;
  }

  /** a handler failed past the gateway's exception filter: the client still gets an answer */
  private failed(frame: Frame, err: unknown): void {
    log.error({ sid: this.link.id, type: frame.type, err: (err as Error)?.message }, 'frame handler failed');
    this.link.send({ type: 'error', code: ErrorCode.INTERNAL, msg: 'internal error' });
  }
}
