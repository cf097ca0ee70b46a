import type { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { IncomingMessage, Server } from 'node:http';

/**
 * How the governance app reads request bodies (called by main.ts where the app is created,
 * before it listens).
 *
 * JSON bodies go through Fastify's own JSON parser (prototype-poisoning checks, 400 for bad
 * JSON, 413 past `bodyLimit`) with one change: an empty body is no body (`undefined`), so a
 * route whose body is optional (`DELETE /api/clients/:id {reason}`) may be sent with
 * `content-type: application/json` and nothing after it, as many clients do; Fastify's parser
 * refuses that with 400. The bytes as received stay on the request as `rawBody` (the alert
 * webhook checks Grafana's HMAC signature over them). Registering it through Nest keeps Nest from adding its own; every
 * other media type is refused with 415 (Fastify's built-in text/plain parser is removed: no route
 * takes text, and a text body used to reach validation and get 400).
 */
export function useGovernanceBodies(app: NestFastifyApplication, adapter: FastifyAdapter, bodyLimit: number): void {
  const fastify = adapter.getInstance();
  fastify.removeContentTypeParser('text/plain');
  const json = fastify.getDefaultJsonParser('error', 'error');
  app.useBodyParser<Server>('application/json', { bodyLimit }, (req, body, done) => {
    // the bytes as sent, for what signs them (the alert webhook's HMAC)
    (req as unknown as { rawBody?: Buffer }).rawBody = body;
    if (body.length === 0) {
      done(null, undefined);
      return;
    }
    void json(req, body.toString('utf8'), done);
  });
}

/** how much of a request answered before it was read whole the app reads and discards, at most */
export const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
/** and for how long */
export const DRAIN_MAX_MS = 5000;

/**
 * A reply sent before the request body was read whole (413: Content-Length over the limit, or
 * the limit passed while reading; 415; 404) waits until the rest of the body has been read and
 * discarded, up to `maxBytes` or `maxMs`, and only then goes out.
 *
 * Fastify answers such a request with `connection: close`, and Node closes the socket once the
 * answer is written: with the client still uploading, unread bytes in the socket make the
 * kernel reset the connection, and the reset often reaches the client before it read the
 * answer (fetch and http.request then fail with EPIPE or ECONNRESET instead of showing a 413).
 * Once the body is read, the close is an orderly one and the client reads the answer. The
 * bounds keep a client that sends without end from holding the connection: past them the
 * answer goes out and the socket closes as before.
 */
export function drainBeforeEarlyReplies(adapter: FastifyAdapter, maxBytes = DRAIN_MAX_BYTES, maxMs = DRAIN_MAX_MS): void {
  adapter.getInstance().addHook('onSend', (request, _reply, payload, done) => {
    const req = request.raw as IncomingMessage;
    if (req.complete || req.readableEnded || req.destroyed) {
      done(null, payload);
      return;
    }
    discardRest(req, maxBytes, maxMs).then(() => done(null, payload));
  });
}

/** Reads and drops what is left of `req`; resolves at its end, when it closes, or past the bounds. */
function discardRest(req: IncomingMessage, maxBytes: number, maxMs: number): Promise<void> {
  return new Promise((resolve) => {
    let read = 0;
    const finish = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', finish);
      req.off('close', finish);
      req.off('error', finish);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (read > maxBytes) finish();
    };
    const timer = setTimeout(finish, maxMs);
    req.on('data', onData);
    req.once('end', finish);
    req.once('close', finish);
    req.once('error', finish);
    req.resume();
  });
}
