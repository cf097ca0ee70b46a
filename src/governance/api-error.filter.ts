import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { logger } from '../common/logger';

const log = logger('governance');

/** what the filter needs of the HTTP platform's reply */
interface Reply {
  status(code: number): { send(body: unknown): void };
}

/** `Payload Too Large` -> `payload_too_large` */
const codeName = (status: number) => (STATUS_CODES[status] ?? 'error').toLowerCase().replace(/[^a-z]+/g, '_');

function shaped(status: number, message: string, host: ArgumentsHost): { error: string; message: string } {
  if (status === 415) {
    const type = host.switchToHttp().getRequest<{ headers: Record<string, unknown> }>().headers['content-type'];
    message = `send the body as application/json (got ${String(type)})`;
  }
  return { error: codeName(status), message };
}

/**
 * One error shape for the governance app, `{error, message}` with a snake_case error code, also
 * for what the platform refuses before a handler runs (a body that is not JSON: 400, over the
 * size limit: 413, of another media type: 415) and for Nest's own errors (unknown route: 404).
 * Bodies a handler built itself pass unchanged: the API's `{error, message, problems}` and the
 * health check's report.
 */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  catch(err: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<Reply>();
    if (err instanceof HttpException) {
      const status = err.getStatus();
      const body = err.getResponse();
      // Nest's default shape {statusCode, message, error?} is rewritten; any other body is the handler's
      if (typeof body === 'object' && body !== null && !('statusCode' in body)) {
        reply.status(status).send(body);
        return;
      }
      const message = typeof body === 'string' ? body : (body as { message?: unknown }).message;
      reply.status(status).send(shaped(status, Array.isArray(message) ? message.join('; ') : String(message ?? err.message), host));
      return;
    }
    const status = (err as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      reply.status(status).send(shaped(status, (err as Error).message, host));
      return;
    }
    log.error({ err: (err as Error)?.stack ?? String(err) }, 'unhandled error in the governance app');
    reply.status(500).send({ error: 'internal', message: 'internal error' });
  }
}
