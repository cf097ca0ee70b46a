import { Injectable } from '@nestjs/common';
import { AckCode, UplinkBackend, UplinkReply } from '../../backend/uplink.backend';
import type { Frame } from '../../codec/frame';
import { FRAME_LIMITS } from '../../codec/frame-limits';
import { logger } from '../../common/logger';
import type { Link } from '../../link/link';
import { GatewayMetrics } from '../../metrics/gateway.metrics';
import { GatewayConfig } from '../../config/gateway.config';

const log = logger('uplink');

type ReqFrame = Extract<Frame, { type: 'req' }>;

/**
 * `req {id, body}` -> the biz backend -> exactly one `ack {id, code, body?, msg?}`. At most
 * link.maxInflightRequests of one link wait for their backend at once: the next gets ack 429.
 */
@Injectable()
export class RequestHandler {
  private readonly maxInflight: number;
  /** a last guard past the backend's own deadline: the ack goes out whatever the backend does */
  private readonly guardMs: number;

  constructor(
    private readonly backend: UplinkBackend,
    private readonly metrics: GatewayMetrics,
    config: GatewayConfig,
  ) {
    this.maxInflight = config.link.maxInflightRequests;
    this.guardMs = config.backend.timeoutMs + 1000;
  }

  /**
   * Hands the request on without waiting for it: the ack goes out when the backend answers (or
   * the deadline passes), and always goes out, even when building the answer fails.
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
    const started = process.hrtime.bigint();
    let reply: UplinkReply;
    let timer: NodeJS.Timeout | undefined;
    try {
      reply = await Promise.race([
        this.backend.request({ session: link.session, id, body: frame.body }),
        new Promise<UplinkReply>(
          (resolve) => (timer = setTimeout(() => resolve({ code: AckCode.TIMEOUT, msg: 'backend did not answer in time' }), this.guardMs)),
        ),
      ]);
    } catch (err) {
      log.error({ sid: link.id, err: (err as Error).message }, 'backend threw');
      reply = { code: AckCode.BACKEND_ERROR, msg: 'backend error' };
    } finally {
      clearTimeout(timer);
      link.inflight--;
    }
    this.metrics.uplinkLatency.observe(biz, Number(process.hrtime.bigint() - started) / 1e9);
    this.answer(link, id, reply, biz);
  }

  private answer(link: Link, id: string, reply: UplinkReply, biz: { biz: string }): void {
    const code = String(reply.code);
    this.metrics.uplinkRequests.inc({ ...biz, code });
    if (reply.code !== AckCode.OK) this.metrics.uplinkErrors.inc({ ...biz, code });
    link.send({ type: 'ack', id, code: reply.code, ...(reply.body !== undefined ? { body: reply.body } : {}), ...(reply.msg ? { msg: reply.msg } : {}) });
  }
}
