/**
 * The admin API as the page uses it: exactly the routes of docs/admin-ui.md, relative to an API
 * base (same origin on a node and on the balancer), with the admin token as a bearer header on
 * every call, also the live stream (read with fetch, so the token never goes in a URL).
 */

export interface ApiError {
  status: number;
  error: string;
  message: string;
  problems?: { field: string; message: string }[];
}

export class Unauthorized extends Error {}

// the contract's own types (docs/admin-ui.md), type-only: nothing of the server is bundled
import type { Overview } from '../governance/admin/overview';
import type { Session } from '../session/session';

export type { Overview, Session };

export type Result<T> = { ok: true; value: T } | { ok: false; error: ApiError };

export class Api {
  constructor(
    readonly base: string,
    readonly token: string,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<Result<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      return { ok: false, error: { status: 0, error: 'network', message: `cannot reach the API: ${(err as Error).message}` } };
    }
    if (res.status === 401) throw new Unauthorized('the admin token was refused');
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.ok) return { ok: true, value: json as T };
    return {
      ok: false,
      error: { status: res.status, error: json?.error ?? 'error', message: json?.message ?? (text || res.statusText), problems: json?.problems },
    };
  }

  overview = () => this.call<Overview>('GET', '/api/overview');
  clients = (q: Record<string, string>) => this.call<{ items: Session[]; next: string | null }>('GET', `/api/clients?${new URLSearchParams(q)}`);
  query = (q: { client_id: string } | { name: string }) => this.call<{ items: Session[] }>('GET', `/api/query?${new URLSearchParams(q)}`);
  kick = (sid: string, reason: string) => this.call<{ kicked: string; reason: string }>('DELETE', `/api/clients/${encodeURIComponent(sid)}`, { reason });
  push = (envelope: unknown) => this.call<unknown>('POST', '/api/push', envelope);

  /**
   * Reads GET /api/live until `signal` aborts, calling `onOverview` with each snapshot and
   * `onState` as the stream connects and drops; reconnects with backoff (1 s doubling to 10 s).
   * Throws Unauthorized (and stops) when the token is refused.
   */
  async live(onOverview: (o: Overview) => void, onState: (s: 'connecting' | 'live' | 'retrying', why?: string) => void, signal: AbortSignal): Promise<void> {
    let backoff = 1000;
    while (!signal.aborted) {
      onState('connecting');
      let why = 'stream ended';
      try {
        const res = await fetch(`${this.base}/api/live`, { headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' }, signal });
        if (res.status === 401) throw new Unauthorized('the admin token was refused');
        if (!res.ok || !res.body) throw new Error(`GET /api/live answered ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trimStart();
            }
            if (event === 'overview' && data) {
              backoff = 1000;
              onState('live');
              onOverview(JSON.parse(data) as Overview);
            }
          }
        }
      } catch (err) {
        if (err instanceof Unauthorized) throw err;
        if (signal.aborted) return;
        why = (err as Error).message;
      }
      onState('retrying', why);
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 10000);
    }
  }
}

/** the API base the page was served with (`<meta name="gateway-api-base">`), '' = same origin */
export function apiBase(): string {
  const meta = document.querySelector('meta[name="gateway-api-base"]');
  return (meta?.getAttribute('content') ?? '').replace(/\/+$/, '');
}
