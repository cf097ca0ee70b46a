import { Injectable } from '@nestjs/common';
import { AckCode, UplinkBackend, UplinkReply } from '../../backend/uplink.backend';
import type { Frame } from '../../codec/frame';
import { logger } from '../../common/logger';
import type { Link } from '../../link/link';
import { GatewayMetrics } from '../../metrics/gateway.metrics';

const log = logger('uplink');
const REQUEST_TIMEOUT_MS = 10000;

type ReqFrame = Extract<Frame, { type: 'req' }>;

/** `req {id, body}` -> the biz backend -> exactly one `ack {id, code, body?, msg?}`. */
@Injectable()
export class RequestHandler {
  constructor(
    private readonly backend: UplinkBackend,
    private readonly metrics: GatewayMetrics,
  ) {}

  /**
   * Hands the request on without waiting for it: the ack goes out when the backend answers (or
   * the timeout passes), and always goes out, even when building the answer fails.
   */
  start(link: Link, frame: ReqFrame): void {
    this.handle(link, frame).catch((err: Error) => {
      log.error({ sid: link.id, err: err.message }, 'request failed');
      link.send({ type: 'ack', id: (frame.id ?? '').slice(0, 64), code: AckCode.BACKEND_ERROR, msg: 'internal error' });
    });
  }

  /** Checks the frame, asks the backend, sends the ack; resolves when the ack was sent. */
  async handle(link: Link, frame: ReqFrame): Promise<void> {
    const id = frame.id ?? '';
    if (id === '' || id.length > 64) {
      link.send({ type: 'ack', id: id.slice(0, 64), code: AckCode.BAD_REQUEST, msg: 'req needs an id of 1-64 characters' });
      return;
    }
    const started = process.hrtime.bigint();
    let reply: UplinkReply;
    let timer: NodeJS.Timeout | undefined;
    try {
      reply = await Promise.race([
        this.backend.request({ session: link.session, id, body: frame.body }),
        new Promise<UplinkReply>(
          (resolve) => (timer = setTimeout(() => resolve({ code: AckCode.TIMEOUT, msg: 'backend did not answer in time' }), REQUEST_TIMEOUT_MS)),
        ),
      ]);
    } catch (err) {
      log.error({ sid: link.id, err: (err as Error).message }, 'backend threw');
      reply = { code: AckCode.BACKEND_ERROR, msg: 'backend error' };
    } finally {
      clearTimeout(timer);
    }
    const labels = { backend: this.backend.name };
    this.metrics.uplinkLatency.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    if (reply.code !== AckCode.OK) this.metrics.uplinkErrors.inc({ ...labels, code: String(reply.code) });
    link.send({ type: 'ack', id, code: reply.code, ...(reply.body !== undefined ? { body: reply.body } : {}), ...(reply.msg ? { msg: reply.msg } : {}) });
  }
}
