import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** `::ffff:127.0.0.1` (an IPv4 peer on a dual-stack socket) -> `127.0.0.1` */
function plain(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The proxies whose X-Forwarded-For is believed (upgrader.trustedProxies): addresses
 * (`10.0.0.5`, `::1`) and networks (`10.0.0.0/8`, `fd00::/8`), for proxies whose address is not
 * fixed (containers). Throws on an entry that is neither (the config schema checks them first).
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly size: number;

  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const [addr, bits] = e.split('/');
      const family = isIP(addr);
      if (!family) throw new Error(`trusted proxy ${e}: not an address or a network`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.list.addAddress(addr, type);
      else this.list.addSubnet(addr, Number(bits), type);
    }
    this.size = entries.length;
  }

  has(address: string): boolean {
    const family = isIP(address);
    return this.size > 0 && family !== 0 && this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/**
 * The address of the client behind an upgrade request: the socket's peer, unless that peer is a
 * trusted proxy (upgrader.trustedProxies: our balancer, HAProxy, nginx), in which case it is the
 * right-most X-Forwarded-For entry that is not itself a trusted proxy. Entries left of that are
 * whatever the client wrote and are never believed; a malformed entry ends the walk (the proxy
 * that appended it is the last one believed).
 */
export function clientAddress(req: Pick<IncomingMessage, 'headers' | 'socket'>, trusted: TrustedProxies): string {
  const peer = plain(req.socket.remoteAddress ?? 'unknown');
  if (!trusted.has(peer)) return peer;
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
