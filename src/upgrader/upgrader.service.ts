import { Injectable } from '@nestjs/common';
import { STATUS_CODES, IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { CodecRegistry } from '../codec/codec.registry';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { NodeState } from '../cluster/node-state';
import { LinkManager } from '../link/link.manager';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import type { Session } from '../session/session';
import type { ResumeCursor } from '../link/link';
import { SessionStore } from '../session/session.store';
import { newSid } from '../session/sid';
import { JwtVerifier, TokenError } from './jwt.verifier';

const log = logger('upgrader');

/** Subprotocol carrying the token for browsers, which cannot set headers: `bearer.<jwt>`. */
export const TOKEN_PROTOCOL_PREFIX = 'bearer.';

export type UpgradeResult =
  'ok' | 'bad_request' | 'not_found' | 'draining' | 'full' | 'rate_limited' | 'forbidden_origin' | 'unauthorized' | 'unavailable' | 'aborted';

/**
 * HTTP -> WebSocket admission. Every refusal is an HTTP status with a JSON body written
 * before any upgrade: 404 wrong path, 503 draining/full/session store down, 429 per-IP rate,
 * 403 origin, 401 token. Checks run cheapest first so a flood costs little.
 */
@Injectable()
export class UpgraderService {
  private readonly limiter: RateLimiterMemory;
  private readonly origins: ReadonlySet<string>;

  constructor(
    private readonly config: GatewayConfig,
    private readonly verifier: JwtVerifier,
    private readonly links: LinkManager,
    private readonly sessions: SessionStore,
    private readonly codecs: CodecRegistry,
    private readonly state: NodeState,
    private readonly metrics: GatewayMetrics,
  ) {
    this.limiter = new RateLimiterMemory({ points: config.upgrader.ratePerIp, duration: config.upgrader.rateWindowSec });
    this.origins = new Set(config.upgrader.allowedOrigins);
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', (err) => log.debug({ err: err.message }, 'upgrade socket error'));
      this.handle(req, socket, head).then(
        (result) => this.metrics.upgrades.inc({ result }),
        (err: Error) => {
          log.error({ err: err.message }, 'upgrade failed');
          this.metrics.upgrades.inc({ result: 'unavailable' });
          refuse(socket, 500, 'internal', 'upgrade failed');
        },
      );
    });
  }

  async handle(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<UpgradeResult> {
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname !== this.config.gateway.path) {
      refuse(socket, 404, 'not_found', `WebSocket endpoint is ${this.config.gateway.path}`);
      return 'not_found';
    }
    if (!this.state.accepting) {
      refuse(socket, 503, 'draining', 'node is not accepting connections', { 'Retry-After': '1' });
      return 'draining';
    }
    if (this.links.registry.size >= this.config.gateway.maxConnections) {
      refuse(socket, 503, 'full', 'node is at capacity', { 'Retry-After': '1' });
      return 'full';
    }
    const ip = req.socket.remoteAddress ?? 'unknown';
    try {
      await this.limiter.consume(ip);
    } catch {
      refuse(socket, 429, 'rate_limited', 'too many upgrades from this address', { 'Retry-After': String(this.config.upgrader.rateWindowSec) });
      return 'rate_limited';
    }
    const origin = req.headers.origin;
    if (origin !== undefined && this.origins.size > 0 && !this.origins.has(origin)) {
      refuse(socket, 403, 'forbidden_origin', `origin ${origin} is not allowed`);
      return 'forbidden_origin';
    }
    const offered = parseProtocols(req.headers['sec-websocket-protocol']);
    const token = extractToken(req, url, offered);
    if (!token) {
      refuse(socket, 401, 'unauthorized', 'no token: send Authorization: Bearer, ?token=, or subprotocol bearer.<token>');
      return 'unauthorized';
    }
    let identity;
    try {
      identity = this.verifier.verify(token);
    } catch (err) {
      refuse(socket, 401, 'unauthorized', err instanceof TokenError ? err.message : 'token rejected');
      return 'unauthorized';
    }
    const { codec, protocol } = this.codecs.select(offered, url.searchParams.get('codec'));
    const resumeFrom = parseResume(url.searchParams.get('resume'));
    if (resumeFrom === 'bad') {
      refuse(socket, 400, 'bad_request', 'resume must be <epoch>:<seq> or empty');
      return 'bad_request';
    }
    const session: Session = {
      sid: newSid(),
      bizId: identity.bizId,
      userId: identity.userId,
      deviceId: identity.deviceId,
      name: identity.name,
      ip,
      node: this.config.node.id,
      connectedAt: Date.now(),
    };
    try {
      await this.sessions.put(session);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'session store unavailable: refusing upgrade');
      refuse(socket, 503, 'unavailable', 'session store unavailable', { 'Retry-After': '1' });
      return 'unavailable';
    }
    const link = await this.links.accept(req, socket, head, session, codec, protocol, identity.expiresAt, resumeFrom);
    if (!link) {
      await this.sessions.remove(session).catch(() => undefined);
      return 'aborted';
    }
    return 'ok';
  }
}

/** `?resume=` -> everything stored; `?resume=<epoch>:<seq>` -> after that cursor; absent -> none. */
function parseResume(value: string | null): ResumeCursor | undefined | 'bad' {
  if (value === null) return undefined;
  if (value === '') return { seq: 0 };
  const m = /^([A-Za-z0-9_-]{1,32}):(\d{1,15})$/.exec(value);
  return m ? { epoch: m[1], seq: Number(m[2]) } : 'bad';
}

function parseProtocols(header: string | undefined): Set<string> {
  return new Set(
    (header ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  );
}

function extractToken(req: IncomingMessage, url: URL, offered: ReadonlySet<string>): string | undefined {
  const auth = req.headers.authorization;
  if (auth && /^bearer /i.test(auth)) return auth.slice(7).trim();
  const query = url.searchParams.get('token');
  if (query) return query;
  for (const p of offered) if (p.startsWith(TOKEN_PROTOCOL_PREFIX)) return p.slice(TOKEN_PROTOCOL_PREFIX.length);
  return undefined;
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function refuse(socket: Duplex, status: number, error: string, message: string, headers: Record<string, string> = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error, message });
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n${body}`,
  );
}
