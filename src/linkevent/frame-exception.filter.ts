import { ArgumentsHost, Catch, WsExceptionFilter } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import { logger } from '../common/logger';
import type { Link } from '../link/link';
import { ErrorCode } from '../link/link.manager';

const log = logger('linkevent');

/**
 * Any error a frame handler throws becomes an `error {code, msg}` frame on its link, and the
 * link lives on. A WsException carrying `{code, msg}` is sent as it is (a handler's refusal);
 * anything else is a 500 and is logged. Nest's default filter would emit an `exception` event
 * on the client object, which a plain WebSocket client never sees.
 */
@Catch()
export class FrameExceptionFilter implements WsExceptionFilter {
  catch(err: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    const link = ws.getClient<Link>();
    const frame = ws.getData<{ type?: string }>();
    if (err instanceof WsException) {
      const e = err.getError();
      const { code, msg } = typeof e === 'object' && e !== null ? (e as { code?: number; msg?: string }) : { code: undefined, msg: String(e) };
      link.send({ type: 'error', code: code ?? ErrorCode.BAD_FRAME, msg: msg ?? 'frame refused' });
      return;
    }
    log.error({ sid: link.id, type: frame?.type, err: (err as Error)?.message }, 'frame handler failed');
    link.send({ type: 'error', code: ErrorCode.INTERNAL, msg: 'internal error' });
  }
}
