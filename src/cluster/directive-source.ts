import { z } from 'zod';
import type { Directive } from './control';

/** What a node does when no directive key exists (or it was deleted): take links, move none. */
export const NORMAL: Directive = Object.freeze({ id: '', action: 'normal', reason: 'manual', issuedAt: 0, by: '' }) as Directive;

const directiveSchema = z.object({
  id: z.string().min(1).max(200),
  action: z.enum(['normal', 'shed', 'rebalance', 'drain']),
  reason: z.enum(['alert', 'manual', 'rebalance', 'drain', 'shutdown']),
  targetLinks: z.number().int().min(0).optional(),
  toward: z.array(z.string().min(1)).max(64).optional(),
  issuedAt: z.number(),
  by: z.string(),
});

/** The Directive in `json`, or why it is not one (the value is then ignored and the node keeps serving). */
export function parseDirective(json: string): { ok: true; directive: Directive } | { ok: false; problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  const r = directiveSchema.safeParse(raw);
  if (!r.success) return { ok: false, problem: r.error.issues.map((i) => `${i.path.join('.') || '(value)'}: ${i.message}`).join('; ') };
  return { ok: true, directive: r.data as Directive };
}

/**
 * The leader's word for this node (`<controlPrefix>directives/<nodeId>`, src/cluster/control.ts).
 * Guarantee: watch() calls `onDirective` with the current directive once it is read (NORMAL when
 * there is none), then with every later value, in order; a deleted key comes as NORMAL; a value
 * that is not a Directive is logged and skipped (the last good one stays in force). After a lost
 * connection the key is read again, so a change made meanwhile is not missed; the same directive
 * may therefore come more than once: the caller acts once per `id`.
 */
export abstract class DirectiveSource {
  abstract watch(onDirective: (directive: Directive) => void): Promise<void>;
  abstract stop(): Promise<void>;
}
