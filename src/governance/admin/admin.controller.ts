import { ServiceUnavailableException, Body, Controller, Delete, Get, HttpCode, NotFoundException, Param, Post, Query, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { LeaderService } from '../../cluster/leader.service';
import { NodeRegistry } from '../../cluster/node-registry';
import { withTimeout } from '../../common/timeout';
import { KickService } from '../../link/kick.service';
import { PushResult, PushRouter } from '../../push/push.router';
import { runKeyed } from '../../push/keyed';
import { GatewayConfig } from '../../config/gateway.config';
import { RoomsService } from '../../rooms/rooms.service';
import { checkEnvelope, Envelope, EnvelopeProblem } from '../../push/envelope';
import { SessionStore } from '../../session/session.store';
import { badRequest, zodProblems } from '../bad-request';
import { AdminTokenGuard } from './admin-token.guard';

const MAX_BATCH = 1000;

const listQuery = z
  .object({
    biz: z.string().min(1).max(128).optional(),
    user: z.string().min(1).max(128).optional(),
    name: z.string().min(1).max(128).optional(),
    cursor: z.string().max(64).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict();

const roomBody = z.object({ bizId: z.string().min(1).max(128), userId: z.string().min(1).max(128) }).strict();

const kickBody = z.object({ reason: z.string().min(1).max(120).optional() }).strict();

/** The operator API. Every route needs the admin bearer token. */
@Controller('api')
@UseGuards(AdminTokenGuard)
export class AdminController {
  /** push.bizIds: the same allow-list the Kafka consumer applies */
  private readonly bizIds: ReadonlySet<string>;

  constructor(
    private readonly sessions: SessionStore,
    private readonly push: PushRouter,
    private readonly kicks: KickService,
    private readonly nodes: NodeRegistry,
    private readonly rooms: RoomsService,
    private readonly config: GatewayConfig,
    private readonly leader: LeaderService,
  ) {
    this.bizIds = new Set(config.push.bizIds);
  }

  /** Sessions across the cluster, paged by an opaque cursor; filter by biz, user, name. */
  @Get('clients')
  async list(@Query() query: Record<string, string>) {
    const q = listQuery.safeParse(query);
    if (!q.success) throw badRequest(zodProblems(q.error));
    const { biz, user, name, cursor, limit } = q.data;
    const page = await this.sessions.list({ bizId: biz, userId: user, name, cursor, limit });
    return { items: page.items, next: page.next ?? null };
  }

  @Get('clients/:id')
  async get(@Param('id') id: string) {
    const s = await this.sessions.get(id);
    if (!s) throw new NotFoundException({ error: 'not_found', message: `no link ${id}` });
    return s;
  }

  /** Closes the link with 4003 and the reason (body `{reason}` or `?reason=`). */
  @Delete('clients/:id')
  @HttpCode(200)
  async kick(@Param('id') id: string, @Body() body: unknown, @Query('reason') queryReason?: string) {
    const parsed = kickBody.safeParse(body ?? {});
    if (!parsed.success) throw badRequest(zodProblems(parsed.error));
    const reason = parsed.data.reason ?? queryReason ?? 'kicked by operator';
    if (!(await this.kicks.kick(id, reason))) throw new NotFoundException({ error: 'not_found', message: `no link ${id}` });
    return { kicked: id, reason };
  }

  /**
   * One envelope or an array of them; all are validated before any is sent, with the Kafka
   * consumer's rules (a biz outside push.bizIds is a problem naming `bizId`, reason `unknown_biz`).
   */
  @Post('push')
  @HttpCode(202)
  async pushEnvelopes(@Body() body: unknown) {
    const batch = Array.isArray(body);
    const items: unknown[] = batch ? body : [body];
    if (items.length === 0) throw badRequest([{ field: '(body)', message: 'empty array' }]);
    if (items.length > MAX_BATCH) throw badRequest([{ field: '(body)', message: `at most ${MAX_BATCH} envelopes per request` }]);
    const envelopes: Envelope[] = [];
    const problems: EnvelopeProblem[] = [];
    items.forEach((item, i) => {
      const r = checkEnvelope(item, this.bizIds, batch ? String(i) : '');
      if (r.ok) {
        envelopes.push(r.envelope);
      } else problems.push(...r.problems);
    });
    if (problems.length) throw badRequest(problems);
    let results: PushResult[];
    try {
      // concurrently across target users, in order for each (same rule as the Kafka consumer)
      results = await runKeyed(
        envelopes,
        (e) => e.to.users?.[0] ?? e.to.room ?? e.bizId,
        this.config.push.concurrency,
        (e) => this.push.push(e, 'api'),
      );
    } catch (err) {
      // the bus or the mailbox is away: the caller may retry the whole request, mids make it idempotent
      throw new ServiceUnavailableException({ error: 'unavailable', message: `push path unavailable: ${(err as Error).message}; retry with the same mids` });
    }
    return batch ? { results } : results[0];
  }

  /** Members of a room (user ids). */
  @Get('rooms/:room/members')
  async roomMembers(@Param('room') room: string, @Query('biz') biz?: string) {
    const q = roomBody.safeParse({ bizId: biz, userId: 'x' });
    if (!q.success) throw badRequest(zodProblems(q.error));
    return { items: await this.rooms.members(q.data.bizId, room) };
  }

  /** Adds a user to a room: every link of the user, on any node, starts receiving it. */
  @Post('rooms/:room/members')
  @HttpCode(200)
  async addMember(@Param('room') room: string, @Body() body: unknown) {
    const b = roomBody.safeParse(body ?? {});
    if (!b.success) throw badRequest(zodProblems(b.error));
    await this.rooms.join(b.data.bizId, room, b.data.userId);
    return { room, ...b.data, member: true };
  }

  @Delete('rooms/:room/members/:user')
  @HttpCode(200)
  async removeMember(@Param('room') room: string, @Param('user') user: string, @Query('biz') biz?: string) {
    const b = roomBody.safeParse({ bizId: biz, userId: user });
    if (!b.success) throw badRequest(zodProblems(b.error));
    await this.rooms.leave(b.data.bizId, room, b.data.userId);
    return { room, ...b.data, member: false };
  }

  /**
   * The nodes of the cluster as the registry knows them, and who leads as this node sees it
   * (`leader`: a node id, null while no node leads; `leader: true` on that node's item); 503
   * naming the registry (etcd in cluster mode) while it does not answer within
   * governance.healthTimeoutMs.
   */
  @Get('nodes')
  async listNodes() {
    try {
      const items = await withTimeout(this.nodes.list(), this.config.governance.healthTimeoutMs);
      const leader = this.leader.leaderId ?? null;
      return { leader, items: items.map((n) => ({ ...n, leader: n.id === leader })) };
    } catch (err) {
      const registry = this.config.mode === 'cluster' ? `etcd (${this.config.etcd.endpoints.join(', ')})` : 'the node registry';
      throw new ServiceUnavailableException({ error: 'unavailable', message: `cannot list nodes: ${registry} unavailable: ${(err as Error).message}` });
    }
  }
}
