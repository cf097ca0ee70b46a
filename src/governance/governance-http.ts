import type { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Server } from 'node:http';

/**
 * How the governance app reads request bodies (called by main.ts where the app is created,
 * before it listens).
 *
 * JSON bodies go through Fastify's own JSON parser (prototype-poisoning checks, 400 for bad
 * JSON, 413 past `bodyLimit`) with one change: an empty body is no body (`undefined`), so a
 * route whose body is optional (`DELETE /api/clients/:id {reason}`) may be sent with
 * `content-type: application/json` and nothing after it, as many clients do; Fastify's parser
 * refuses that with 400. Registering it through Nest keeps Nest from adding its own; other
 * media types are refused with 415, as before for all but form bodies, which no route takes.
 */
export function useGovernanceBodies(app: NestFastifyApplication, adapter: FastifyAdapter, bodyLimit: number): void {
  const json = adapter.getInstance().getDefaultJsonParser('error', 'error');
  app.useBodyParser<Server>('application/json', { bodyLimit }, (req, body, done) => {
    if (body.length === 0) {
      done(null, undefined);
      return;
    }
    void json(req, body.toString('utf8'), done);
  });
}
