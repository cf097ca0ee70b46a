import { Controller, Get, Query, Res, UseGuards } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { SessionStore } from '../../session/session.store';
import { badRequest, zodProblems } from '../bad-request';
import { AdminTokenGuard } from './admin-token.guard';
import { LiveOverview } from './live-overview.service';
import { OverviewService } from './overview.service';

const queryQuery = z
  .object({
    client_id: z.string().min(1).max(128).optional(),
    name: z.string().min(1).max(128).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

/** what the route needs of Fastify's reply: the Node response, taken over for the stream */
interface HijackableReply {
  raw: ServerResponse;
  hijack(): void;
}

/**
 * What the admin UI reads (docs/admin-ui.md): the overview snapshot, the same as a live event
 * stream, and the original system's session query. Behind the admin bearer token like the rest
 * of the API; the page sends it as a header, also for the stream (never in a URL).
 */
@Controller('api')
@UseGuards(AdminTokenGuard)
export class OverviewController {
  constructor(
    private readonly overview: OverviewService,
    private readonly live: LiveOverview,
    private readonly sessions: SessionStore,
  ) {}

  @Get('overview')
  snapshot() {
    return this.overview.snapshot();
  }

  /** text/event-stream: event `overview` at once and every governance.liveIntervalMs */
  @Get('live')
  stream(@Res() reply: HijackableReply): void {
    reply.hijack();
    this.live.attach(reply.raw);
  }

  /**
   * `?client_id=<sid>`: that link's session (an empty list when there is none), or `?name=<substring>`:
   * the sessions whose display name contains it (case-insensitive), at most `limit` (100).
   */
  @Get('query')
  async query(@Query() query: Record<string, string>) {
    const q = queryQuery.safeParse(query);
    if (!q.success) throw badRequest(zodProblems(q.error));
    const { client_id: sid, name, limit } = q.data;
    if (sid === undefined && name === undefined) throw badRequest([{ field: '(query)', message: 'give client_id=<sid> or name=<substring>' }]);
    if (sid !== undefined && name !== undefined) throw badRequest([{ field: '(query)', message: 'give client_id or name, not both' }]);
    if (sid !== undefined) {
      const s = await this.sessions.get(sid);
      return { items: s ? [s] : [] };
    }
    return { items: (await this.sessions.list({ name, limit })).items };
  }
}
