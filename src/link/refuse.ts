import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** How long a refused client may take to read our answer before its socket is destroyed. */
export const REFUSED_SOCKET_DEADLINE_MS = 2000;

/** Why an upgrade was refused: the HTTP status and the JSON body the client reads. */
export interface Refusal {
  status: number;
  error: string;
  message: string;
  headers?: Record<string, string>;
  /** more fields of the JSON body (a shedding node's `retryAfterSec` and `peer`) */
  extra?: Record<string, unknown>;
}

/**
 * Answers an upgrade request with a plain HTTP error and closes the socket: ended after the
 * answer and destroyed once it is written (ws's abortHandshake does the same; it is not
 * exported), or after REFUSED_SOCKET_DEADLINE_MS if the client does not read it, so a refused
 * client that keeps its end open holds no descriptor of ours.
 */
export function refuse(socket: Duplex, r: Refusal): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: r.error, message: r.message, ...r.extra });
  const extra = Object.entries(r.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const deadline = setTimeout(() => socket.destroy(), REFUSED_SOCKET_DEADLINE_MS);
  deadline.unref();
  socket.once('close', () => clearTimeout(deadline));
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n${body}`,
  );
}
