import type { IncomingMessage } from 'node:http';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { GatewayConfig } from '../config/gateway.config';
import type { Refusal } from '../link/refuse';
import { clientAddress, TrustedProxies } from './client-address';
import { Identity, JwtVerifier, TokenError } from './jwt.verifier';
import { extractToken, parseProtocols } from './token';

/** who the client is, once it passed */
export interface Checked {
  ok: true;
  /** its address (behind a trusted proxy: the forwarded one) */
  ip: string;
  identity: Identity;
  /** the subprotocols it offered (the codec is chosen from them) */
  offered: Set<string>;
}

export type CheckResult = Checked | { ok: false; result: 'rate_limited' | 'forbidden_origin' | 'unauthorized'; refusal: Refusal };

/**
 * The checks of a client's upgrade that a node's upgrader and the balancer both make, in the
 * same order and with the same refusals, cheapest first: the per-IP rate (429 with Retry-After),
 * the Origin (403), the token (401). Each process has its own per-IP counters.
 */
export class ClientChecks {
  private readonly limiter: RateLimiterMemory;
  private readonly origins: ReadonlySet<string>;
  private readonly proxies: TrustedProxies;
  private readonly retryAfter: string;

  constructor(
    config: GatewayConfig,
    private readonly verifier: JwtVerifier,
  ) {
    this.limiter = new RateLimiterMemory({ points: config.upgrader.ratePerIp, duration: config.upgrader.rateWindowSec });
    this.origins = new Set(config.upgrader.allowedOrigins);
    this.proxies = new TrustedProxies(config.upgrader.trustedProxies);
    this.retryAfter = String(config.upgrader.rateWindowSec);
  }

  async check(req: IncomingMessage, url: URL): Promise<CheckResult> {
    const ip = clientAddress(req, this.proxies);
    try {
      await this.limiter.consume(ip);
    } catch {
      return {
        ok: false,
        result: 'rate_limited',
        refusal: { status: 429, error: 'rate_limited', message: 'too many upgrades from this address', headers: { 'Retry-After': this.retryAfter } },
      };
    }
    const origin = req.headers.origin;
    if (origin !== undefined && this.origins.size > 0 && !this.origins.has(origin))
      return { ok: false, result: 'forbidden_origin', refusal: { status: 403, error: 'forbidden_origin', message: `origin ${origin} is not allowed` } };
    const offered = parseProtocols(req.headers['sec-websocket-protocol']);
    const token = extractToken(req, url, offered);
    const unauthorized = (message: string): CheckResult => ({ ok: false, result: 'unauthorized', refusal: { status: 401, error: 'unauthorized', message } });
    if (!token) return unauthorized('no token: send Authorization: Bearer, ?token=, or subprotocol bearer.<token>');
    try {
      return { ok: true, ip, identity: this.verifier.verify(token), offered };
    } catch (err) {
      return unauthorized(err instanceof TokenError ? err.message : 'token rejected');
    }
  }
}
