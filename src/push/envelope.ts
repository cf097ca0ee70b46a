import { z } from 'zod';
import { gateway } from '../codec/generated/frames';

// zod 4 says "expected string, received undefined" for a missing key; "required" says it plainly
const id = z
  .string({ error: (issue) => (issue.input === undefined ? 'required' : undefined) })
  .regex(/^[\w.@:+-]{1,128}$/, 'must be 1-128 characters of letters, digits, _ . @ : + -');

/**
 * A push envelope (DESIGN.md): the same shape on Kafka and on POST /api/push.
 * `op` push (default): deliver `body` to exactly one target kind in `to`.
 * `op` join / leave: add / remove `to.users` to / from `room` (no body).
 */
export const envelopeSchema = z
  .strictObject({
    mid: id.optional(),
    bizId: id,
    op: z.enum(['push', 'join', 'leave']).optional(),
    to: z
      .strictObject({
        users: z.array(id).min(1).max(1000).optional(),
        links: z.array(z.string().min(1).max(64)).min(1).max(1000).optional(),
        room: id.optional(),
        all: z.literal(true).optional(),
      })
      .refine((t) => [t.users, t.links, t.room, t.all].filter((x) => x !== undefined).length === 1, 'name exactly one of users, links, room, all'),
    room: id.optional(),
    // zod 4 requires a key whose schema is z.unknown() ("expected nonoptional"): join / leave carry
    // no body, and a push without one is reported as "body: required" below
    body: z.unknown().optional(),
    ttlSec: z
      .number()
      .int('must be a whole number of seconds')
      .positive()
      .max(86400 * 7)
      .optional(),
    persist: z.boolean().optional(),
  })
  .superRefine((e, ctx) => {
    const op = e.op ?? 'push';
    if (op === 'push') {
      if (e.body === undefined) ctx.addIssue({ code: 'custom', path: ['body'], message: 'required' });
      if (e.room !== undefined) ctx.addIssue({ code: 'custom', path: ['room'], message: 'only for op join/leave (a room push uses to.room)' });
    } else {
      if (e.room === undefined) ctx.addIssue({ code: 'custom', path: ['room'], message: `required for op ${op}` });
      if (e.to.users === undefined) ctx.addIssue({ code: 'custom', path: ['to', 'users'], message: `required for op ${op}` });
    }
  });

export type Envelope = z.infer<typeof envelopeSchema>;

export interface EnvelopeProblem {
  field: string;
  message: string;
  /** set when the envelope is well formed but refused by configuration: `unknown_biz` */
  reason?: 'unknown_biz';
}

export type ParsedEnvelope = { ok: true; envelope: Envelope } | { ok: false; problems: EnvelopeProblem[] };

/**
 * An envelope checked for a push source: well formed (`invalid` otherwise) and for a biz this
 * gateway serves (`unknown_biz` otherwise).
 */
export type CheckedEnvelope = { ok: true; envelope: Envelope } | { ok: false; reason: 'invalid' | 'unknown_biz'; problems: EnvelopeProblem[] };

/** Validates one envelope; on failure lists every problem with the field at fault. */
export function parseEnvelope(value: unknown, at = ''): ParsedEnvelope {
  const r = envelopeSchema.safeParse(value);
  if (r.success) return { ok: true, envelope: r.data };
  return {
    ok: false,
    problems: r.error.issues.map((i) => ({ field: [at, ...i.path].filter((p) => p !== '').join('.') || '(body)', message: i.message })),
  };
}

/**
 * The biz allow-list (config `push.bizIds`; empty allows any): undefined when the envelope's biz
 * is served, else the problem naming `bizId` (at `at`, e.g. an index in a batch).
 */
export function unknownBiz(envelope: Envelope, allowedBizIds: ReadonlySet<string>, at = ''): EnvelopeProblem | undefined {
  if (allowedBizIds.size === 0 || allowedBizIds.has(envelope.bizId)) return undefined;
  return { field: [at, 'bizId'].filter((p) => p !== '').join('.'), message: `biz ${envelope.bizId} is not in push.bizIds`, reason: 'unknown_biz' };
}

/**
 * The one validation of both push sources (the Kafka consumer and POST /api/push): the schema,
 * then the biz allow-list, so the API refuses exactly what the consumer dead-letters.
 */
export function checkEnvelope(value: unknown, allowedBizIds: ReadonlySet<string>, at = ''): CheckedEnvelope {
  const parsed = parseEnvelope(value, at);
  if (!parsed.ok) return { ok: false, reason: 'invalid', problems: parsed.problems };
  const problem = unknownBiz(parsed.envelope, allowedBizIds, at);
  return problem ? { ok: false, reason: 'unknown_biz', problems: [problem] } : parsed;
}

const Pb = gateway.v1.PushEnvelope;

/**
 * The protobuf form (proto/gateway/v1/envelope.proto) turned into the JSON form, so both go
 * through the same validation. Throws with a reason when the bytes are not a PushEnvelope.
 */
export function envelopeFromProtobuf(bytes: Uint8Array): unknown {
  const m = Pb.toObject(Pb.decode(bytes), { longs: Number, bytes: Buffer, defaults: false }) as Record<string, any>;
  const to = m.to ?? {};
  const target: Record<string, unknown> = {};
  if (to.users?.length) target.users = to.users;
  if (to.links?.length) target.links = to.links;
  if (to.room) target.room = to.room;
  if (to.all) target.all = true;
  const out: Record<string, unknown> = { bizId: m.bizId, to: target };
  if (m.mid) out.mid = m.mid;
  if (m.op) out.op = m.op;
  if (m.room) out.room = m.room;
  if (m.ttlSec) out.ttlSec = m.ttlSec;
  if (m.persist !== undefined && m.persist !== null) out.persist = m.persist;
  if (m.body && m.body.length) out.body = JSON.parse(Buffer.from(m.body).toString('utf8'));
  return out;
}
