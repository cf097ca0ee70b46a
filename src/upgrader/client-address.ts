import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** `::ffff:127.0.0.1` (an IPv4 peer on a dual-stack socket) -> `127.0.0.1` */
function plain(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The address of the client behind an upgrade request: the socket's peer, unless that peer is a
 * trusted proxy (upgrader.trustedProxies: our balancer, HAProxy, nginx), in which case it is the
 * right-most X-Forwarded-For entry that is not itself a trusted proxy. Entries left of that are
 * whatever the client wrote and are never believed; a malformed entry ends the walk (the proxy
 * that appended it is the last one believed).
 */
export function clientAddress(req: Pick<IncomingMessage, 'headers' | 'socket'>, trusted: ReadonlySet<string>): string {
  const peer = plain(req.socket.remoteAddress ?? 'unknown');
  if (trusted.size === 0 || !trusted.has(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plain(hops[i]);
    if (!isIP(hop)) break;
    client = hop;
    if (!trusted.has(hop)) break;
  }
  return client;
}
