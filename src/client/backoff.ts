/**
 * Full-jitter exponential backoff, as centrifuge-js does it: after `attempt` consecutive
 * failures (0 for the first retry) wait `min + random * min(max, min * 2^attempt)`, capped at
 * `max`. So every delay is within [min, max], the ceiling doubles per failure, and clients that
 * lost the same node spread out instead of coming back at once.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(Math.max(0, Math.floor(attempt)), 31);
  const ceiling = Math.min(maxMs, minMs * 2 ** step);
  return Math.min(maxMs, Math.floor(minMs + random() * ceiling));
}

/** `Retry-After` header value (seconds, or an HTTP date) -> ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
