import { randomBytes } from 'node:crypto';

/** A link id: 16 random bytes, base64url; unguessable, so it can be shown to operators safely. */
export function newSid(): string {
  return randomBytes(16).toString('base64url');
}
