import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { sameSecret } from '../../common/same-secret';

export interface WebhookCredentials {
  token?: string;
  basicUser?: string;
  basicPassword?: string;
  hmacSecret?: string;
  hmacHeader: string;
  hmacTimestampHeader: string;
  replayWindowMs: number;
}

export type AuthResult = { ok: true; method: 'bearer' | 'basic' | 'hmac' } | { ok: false; reason: string };

/** Grafana's signature (grafana/alerting http/hmac.go): hex HMAC-SHA256 of `<unix seconds>:<raw body>` with the contact point's secret */
export function grafanaSignature(secret: string, timestamp: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(timestamp).update(':').update(body).digest('hex');
}

export function configuredMethods(c: WebhookCredentials): ('bearer' | 'basic' | 'hmac')[] {
  const out: ('bearer' | 'basic' | 'hmac')[] = [];
  if (c.token) out.push('bearer');
  if (c.basicUser !== undefined && c.basicPassword) out.push('basic');
  if (c.hmacSecret) out.push('hmac');
  return out;
}

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * Who may post alerts. Every credential the request presents must be right, and at least one
 * configured one must be presented: an `Authorization: Bearer` equal to webhook.token, an
 * `Authorization: Basic` equal to webhook.basicUser:basicPassword, or Grafana's signature header
 * that matches the body, with a timestamp header within replayWindowMs of `now`. A signature
 * without a timestamp is refused: nothing would stop its replay. No credential configured:
 * everything is refused.
 */
export function checkWebhookAuth(c: WebhookCredentials, headers: IncomingHttpHeaders, rawBody: Buffer, now: number): AuthResult {
  const methods = configuredMethods(c);
  if (methods.length === 0)
    return {
      ok: false,
      reason: 'the webhook has no credentials configured (webhook.token, webhook.basicUser/basicPassword or webhook.hmacSecret): every call is refused',
    };
  let accepted: 'bearer' | 'basic' | 'hmac' | undefined;
  const authorization = header(headers, 'authorization');
  if (authorization !== undefined) {
    const [scheme, ...rest] = authorization.trim().split(/\s+/);
    const value = rest.join(' ');
    if (/^bearer$/i.test(scheme)) {
      if (!c.token) return { ok: false, reason: 'a bearer token was sent but webhook.token is not set' };
      if (!sameSecret(value, c.token)) return { ok: false, reason: 'wrong bearer token' };
      accepted = 'bearer';
    } else if (/^basic$/i.test(scheme)) {
      if (!methods.includes('basic')) return { ok: false, reason: 'basic credentials were sent but webhook.basicUser/basicPassword are not set' };
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      // both compared whatever the first gives: no early exit tells which one was wrong
      const userOk = sameSecret(colon < 0 ? '' : decoded.slice(0, colon), c.basicUser!);
      const passOk = sameSecret(colon < 0 ? '' : decoded.slice(colon + 1), c.basicPassword!);
      if (!(userOk && passOk)) return { ok: false, reason: 'wrong basic credentials' };
      accepted = 'basic';
    } else {
      return { ok: false, reason: `unsupported Authorization scheme ${scheme.slice(0, 20)}` };
    }
  }
  const signature = header(headers, c.hmacHeader);
  if (signature !== undefined) {
    if (!c.hmacSecret) {
      if (!accepted) return { ok: false, reason: `a ${c.hmacHeader} signature was sent but webhook.hmacSecret is not set` };
    } else {
      const timestamp = header(headers, c.hmacTimestampHeader);
      if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp.trim()))
        return { ok: false, reason: `a signed request needs its Unix timestamp in ${c.hmacTimestampHeader} (set it as the contact point's timestamp header)` };
      const skew = Math.abs(now - Number(timestamp.trim()) * 1000);
      if (skew > c.replayWindowMs)
        return { ok: false, reason: `stale signature: ${c.hmacTimestampHeader} is ${Math.round(skew / 1000)} s away from now (window ${c.replayWindowMs} ms)` };
      if (!sameSecret(signature.trim().toLowerCase(), grafanaSignature(c.hmacSecret, timestamp.trim(), rawBody)))
        return { ok: false, reason: `bad signature in ${c.hmacHeader}` };
      accepted = 'hmac';
    }
  }
  if (!accepted) return { ok: false, reason: `no credentials: send ${methods.map((m) => (m === 'hmac' ? `the ${c.hmacHeader} signature` : m)).join(' or ')}` };
  return { ok: true, method: accepted };
}
