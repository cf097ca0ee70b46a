import { timingSafeEqual } from 'node:crypto';

/**
 * Whether a presented secret equals the configured one, compared in constant time for equal
 * lengths (the lengths are not secret: a token's length is in its config).
 */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
