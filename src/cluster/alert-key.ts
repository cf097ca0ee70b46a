import type { AlertRecord } from './control';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

/**
 * An alert's idempotency key, safe in an etcd key: `<fingerprint>.<startsAt>.<status>`, the
 * fingerprint base64url-encoded and startsAt as epoch ms (the same instant written two ways is
 * one alert). The status is part of it: Alertmanager's `resolved` repeats the firing alert's
 * fingerprint and startsAt, and must not be taken for a repeat of it.
 */
export function alertKey(fingerprint: string, startsAt: string, status: AlertRecord['status']): string {
  const ms = Date.parse(startsAt);
  return `${b64(fingerprint)}.${Number.isFinite(ms) ? ms : b64(startsAt)}.${status}`;
}

/** the alert a record is about, whatever its status: its key without the status */
export function alertIdentity(key: string): string {
  return key.slice(0, key.lastIndexOf('.'));
}
