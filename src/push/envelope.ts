import { z } from 'zod';

const id = z.string().regex(/^[\w.@:+-]{1,128}$/, 'must be 1-128 characters of letters, digits, _ . @ : + -');

/**
 * A push envelope (DESIGN.md): the same shape on Kafka and on POST /api/push.
 * Exactly one target kind in `to`.
 */
export const envelopeSchema = z
  .object({
    mid: id.optional(),
    bizId: id,
    to: z
      .object({
        users: z.array(id).min(1).max(1000).optional(),
        links: z.array(z.string().min(1).max(64)).min(1).max(1000).optional(),
        room: id.optional(),
        all: z.literal(true).optional(),
      })
      .strict()
      .refine((t) => [t.users, t.links, t.room, t.all].filter((x) => x !== undefined).length === 1, {
        message: 'name exactly one of users, links, room, all',
      }),
    body: z.unknown().refine((b) => b !== undefined, { message: 'required' }),
    ttlSec: z.number().int().positive().max(86400 * 7).optional(),
    persist: z.boolean().optional(),
  })
  .strict();

export type Envelope = z.infer<typeof envelopeSchema>;

export interface EnvelopeProblem {
  field: string;
  message: string;
}

/** Validates one envelope; on failure lists every problem with the field at fault. */
export function parseEnvelope(value: unknown, at = ''): { ok: true; envelope: Envelope } | { ok: false; problems: EnvelopeProblem[] } {
  const r = envelopeSchema.safeParse(value);
  if (r.success) return { ok: true, envelope: r.data };
  return {
    ok: false,
    problems: r.error.issues.map((i) => ({ field: [at, ...i.path].filter((p) => p !== '').join('.') || '(body)', message: i.message })),
  };
}
