import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { NodeState } from '../cluster/node-state';
import { PeerDirectory } from '../cluster/peer-directory.service';
import { CodecRegistry } from '../codec/codec.registry';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { Admission, AdmissionDecision } from '../link/admission';
import type { ResumeCursor } from '../link/link';
import { Admitted, LinkManager } from '../link/link.manager';
import type { Refusal } from '../link/refuse';
import type { Session } from '../session/session';
import { SessionStore } from '../session/session.store';
import { newSid } from '../session/sid';
import { ClientChecks } from './client-checks';
import { JwtVerifier } from './jwt.verifier';

const log = logger('upgrader');

export type UpgradeResult =
  'ok' | 'bad_request' | 'not_found' | 'draining' | 'shedding' | 'full' | 'rate_limited' | 'forbidden_origin' | 'unauthorized' | 'unavailable' | 'aborted';

const no = (
  result: UpgradeResult,
  status: number,
  error: string,
  message: string,
  headers?: Record<string, string>,
  extra?: Record<string, unknown>,
): AdmissionDecision => ({
  ok: false,
  result,
  refusal: { status, error, message, ...(headers ? { headers } : {}), ...(extra ? { extra } : {}) } satisfies Refusal,
});

/**
 * HTTP -> WebSocket admission: decides, the link layer acts. Every refusal is an HTTP status
 * with a JSON body: 404 wrong path, 503 draining/shedding (with a peer)/full/session store down, 429 per-IP rate, 403
 * origin, 401 token, 400 bad resume cursor. Checks run cheapest first so a flood costs little.
 * An admitted upgrade has its session stored before the handshake completes.
 */
@Injectable()
export class UpgraderService extends Admission {
  private readonly checks: ClientChecks;

  constructor(
    private readonly config: GatewayConfig,
    verifier: JwtVerifier,
    private readonly links: LinkManager,
    private readonly sessions: SessionStore,
    private readonly codecs: CodecRegistry,
    private readonly state: NodeState,
    private readonly peers: PeerDirectory,
  ) {
    super();
    this.checks = new ClientChecks(config, verifier);
  }

  async admit(req: IncomingMessage): Promise<AdmissionDecision> {
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname !== this.config.gateway.path) return no('not_found', 404, 'not_found', `WebSocket endpoint is ${this.config.gateway.path}`);
    if (!this.state.accepting) return this.notAccepting();
    if (this.links.registry.size >= this.config.gateway.maxConnections) return no('full', 503, 'full', 'node is at capacity', { 'Retry-After': '1' });
    const client = await this.checks.check(req, url);
    if (!client.ok) return client;
    const { ip, identity, offered } = client;
    const { codec, protocol } = this.codecs.select(offered, url.searchParams.get('codec'));
    const resumeFrom = parseResume(url.searchParams.get('resume'));
    if (resumeFrom === 'bad') return no('bad_request', 400, 'bad_request', 'resume must be <epoch>:<seq> or empty');
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
    // from here until the link opens (or the socket goes), the session is stored without a link
    this.links.admitting.add(session.sid);
    try {
      await this.sessions.put(session);
    } catch (err) {
      this.links.admitting.delete(session.sid);
      log.warn({ err: (err as Error).message }, 'session store unavailable: refusing upgrade');
      return no('unavailable', 503, 'unavailable', 'session store unavailable', { 'Retry-After': '1' });
    }
    const admitted: Admitted = { session, codec, protocol, expiresAt: identity.expiresAt, resumeFrom };
    return { ok: true, admitted };
  }

  /**
   * Starting or stopped: 503 `draining`, Retry-After 1. Shedding (a `shed` directive) or draining
   * (SIGTERM, a `drain` directive): 503 `shedding` / `draining` with Retry-After
   * shedding.retryAfterSec and the least-loaded running peer in the body, from the cached peer
   * list (no etcd read per refusal), so the client can go there at once.
   */
  private async notAccepting(): Promise<AdmissionDecision> {
    const { state, load } = this.state;
    const movingOff = state === 'draining' || (state === 'running' && load !== 'normal');
    if (!movingOff) return no('draining', 503, 'draining', 'node is not accepting connections', { 'Retry-After': '1' });
    const shedding = state === 'running' && load === 'shedding';
    const retryAfterSec = this.config.shedding.retryAfterSec;
    const peer = (await this.peers.leastLoaded().catch(() => undefined)) ?? null;
    const [result, message] = shedding
      ? (['shedding', 'node is shedding load: connect to the peer, or retry later'] as const)
      : (['draining', 'node is draining: connect to the peer, or retry later'] as const);
    return no(result, 503, result, message, { 'Retry-After': String(retryAfterSec) }, { retryAfterSec, peer });
  }

  async abandon(admitted: Admitted): Promise<void> {
    this.links.admitting.delete(admitted.session.sid);
    await this.sessions.remove(admitted.session);
  }
}

/** `?resume=` -> everything stored; `?resume=<epoch>:<seq>` -> after that cursor; absent -> none. */
function parseResume(value: string | null): ResumeCursor | undefined | 'bad' {
  if (value === null) return undefined;
  if (value === '') return { seq: 0 };
  const m = /^([A-Za-z0-9_-]{1,32}):(\d{1,15})$/.exec(value);
  return m ? { epoch: m[1], seq: Number(m[2]) } : 'bad';
}
