import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { AckCode, UplinkBackend, UplinkReply } from '../../backend/uplink.backend';
import type { Frame } from '../../codec/frame';
import { FRAME_LIMITS } from '../../codec/frame-limits';
import { logger } from '../../common/logger';
import type { Link } from '../../link/link';
import { GatewayMetrics } from '../../metrics/gateway.metrics';
import { GatewayConfig } from '../../config/gateway.config';

const log = logger('uplink');

type ReqFrame = Extract<Frame, { type: 'req' }>;

/** a request waiting for its backend */
interface Pending {
  link: Link;
  id: string;
  biz: { biz: string };
  started: bigint;
  /** epoch ms past which the guard answers it */
  due: number;
  answered: boolean;
}

/** how often the guard looks for requests past their due time */
const GUARD_SWEEP_MS = 250;

/**
 * `req {id, body}` -> the biz backend -> exactly one `ack {id, code, body?, msg?}`. At most
 * link.maxInflightRequests of one link wait for their backend at once: the next gets ack 429.
 *
 * A last guard stands past the backend's own deadline (backend.timeoutMs + 1 s): whatever the
 * backend does, the ack goes out. It is one sweep every 250 ms over the waiting requests, oldest
 * first (they all have the same guard, so the sweep stops at the first one not yet due), rather
 * than a timer and a Promise.race per request: two promises, a closure and a timer less on every
 * request, which `make bench` showed in the uplink's CPU and garbage per request.
 */
@Injectable()
export class RequestHandler implements OnModuleDestroy {
  private readonly maxInflight: number;
  private readonly guardMs: number;
  /** insertion order = start order = due order */
  private readonly waiting = new Set<Pending>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly backend: UplinkBackend,
    private readonly metrics: GatewayMetrics,
    config: GatewayConfig,
  ) {
    this.maxInflight = config.link.maxInflightRequests;
    this.guardMs = config.backend.timeoutMs + 1000;
    this.sweeper = setInterval(() => this.sweep(Date.now()), GUARD_SWEEP_MS);
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  /**
   * Hands the request on without waiting for it: the ack goes out when the backend answers (or
   * the guard's time passes), and always goes out, even when building the answer fails.
   */
  start(link: Link, frame: ReqFrame): void {
    this.handle(link, frame).catch((err: Error) => {
      log.error({ sid: link.id, err: err.message }, 'request failed');
      link.send({ type: 'ack', id: (frame.id ?? '').slice(0, FRAME_LIMITS.reqId), code: AckCode.BACKEND_ERROR, msg: 'internal error' });
    });
  }

  /** Checks the frame, asks the backend, sends the ack; resolves when the ack was sent. */
  async handle(link: Link, frame: ReqFrame): Promise<void> {
    const id = frame.id ?? '';
    const biz = { biz: link.session.bizId };
    if (id === '' || id.length > FRAME_LIMITS.reqId) {
      this.answer(link, id.slice(0, FRAME_LIMITS.reqId), { code: AckCode.BAD_REQUEST, msg: `req needs an id of 1-${FRAME_LIMITS.reqId} characters` }, biz);
      return;
    }
    if (link.inflight >= this.maxInflight) {
      this.answer(link, id, { code: AckCode.TOO_MANY, msg: `more than ${this.maxInflight} requests of this link are waiting for their ack` }, biz);
      return;
    }
    link.inflight++;
    const pending: Pending = { link, id, biz, started: process.hrtime.bigint(), due: Date.now() + this.guardMs, answered: false };
    this.waiting.add(pending);
    let reply: UplinkReply;
    try {
      reply = await this.backend.request({ session: link.session, id, body: frame.body });
    } catch (err) {
      log.error({ sid: link.id, err: (err as Error).message }, 'backend threw');
      reply = { code: AckCode.BACKEND_ERROR, msg: 'backend error' };
    }
    this.finish(pending, reply);
  }

  /** answers the requests past their guard with 504 (their backend's answer, if it ever comes, is dropped) */
  sweep(now: number): void {
    for (const p of this.waiting) {
      if (p.due > now) break;
      this.finish(p, { code: AckCode.TIMEOUT, msg: 'backend did not answer in time' });
    }
  }

  /** the one ack of a request: the first of the backend's answer and the guard's */
  private finish(p: Pending, reply: UplinkReply): void {
    if (p.answered) return;
    p.answered = true;
    this.waiting.delete(p);
    p.link.inflight--;
    this.metrics.uplinkLatency.observe(p.biz, Number(process.hrtime.bigint() - p.started) / 1e9);
    this.answer(p.link, p.id, reply, p.biz);
  }

  private answer(link: Link, id: string, reply: UplinkReply, biz: { biz: string }): void {
    const code = String(reply.code);
    this.metrics.uplinkRequests.inc({ ...biz, code });
    if (reply.code !== AckCode.OK) this.metrics.uplinkErrors.inc({ ...biz, code });
    link.send({ type: 'ack', id, code: reply.code, ...(reply.body !== undefined ? { body: reply.body } : {}), ...(reply.msg ? { msg: reply.msg } : {}) });
  }
}
