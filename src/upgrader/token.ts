import type { IncomingMessage } from 'node:http';

/** Subprotocol carrying the token for browsers, which cannot set headers: `bearer.<jwt>`. */
export const TOKEN_PROTOCOL_PREFIX = 'bearer.';

/** the subprotocols a client offered (Sec-WebSocket-Protocol) */
export function parseProtocols(header: string | undefined): Set<string> {
  return new Set(
    (header ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  );
}

/** the client's token: Authorization: Bearer, then ?token=, then subprotocol bearer.<jwt> */
export function extractToken(req: IncomingMessage, url: URL, offered: ReadonlySet<string>): string | undefined {
  const auth = req.headers.authorization;
  if (auth && /^bearer /i.test(auth)) return auth.slice(7).trim();
  const query = url.searchParams.get('token');
  if (query) return query;
  for (const p of offered) if (p.startsWith(TOKEN_PROTOCOL_PREFIX)) return p.slice(TOKEN_PROTOCOL_PREFIX.length);
  return undefined;
}
