import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { parseRetryAfter } from './backoff';
import type { Refusal, Transport } from './types';

const MAX_REFUSAL_BODY = 64 * 1024;

/**
 * A transport over the `ws` package: sets headers (Authorization: Bearer) and sees an HTTP
 * refusal of the upgrade (status, Retry-After, JSON body) through `unexpected-response`.
 */
export const nodeTransport: Transport = (request, handlers) => {
  let done = false;
  const ws = new WebSocket(request.url, request.protocols, {
    headers: request.headers,
    handshakeTimeout: request.handshakeTimeoutMs,
    perMessageDeflate: false,
  });
  ws.on('open', () => handlers.open(ws.protocol));
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) handlers.message(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    else handlers.message(data.toString('utf8'));
  });
  ws.on('error', (err: Error) => {
    if (!done) handlers.error(err);
  });
  ws.on('close', (code: number, reason: Buffer) => {
    if (done) return;
    done = true;
    handlers.close(code, reason.toString('utf8'));
  });
  ws.on('unexpected-response', (_req, res: IncomingMessage) => {
    void readRefusal(res).then((refusal) => {
      if (done) return;
      done = true;
      handlers.refused(refusal);
      ws.terminate();
    });
  });
  return {
    send: (data) => ws.send(data),
    close: (code, reason) => ws.close(code, reason),
    terminate: () => ws.terminate(),
  };
};

async function readRefusal(res: IncomingMessage): Promise<Refusal> {
  const status = res.statusCode ?? 0;
  const header = res.headers['retry-after'];
  const retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header);
  let text = '';
  try {
    res.setEncoding('utf8');
    for await (const chunk of res) {
      text += chunk as string;
      if (text.length > MAX_REFUSAL_BODY) break;
    }
  } catch {
    // the body is a courtesy; the status says enough
  }
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return retryAfterMs === undefined ? { status, body } : { status, retryAfterMs, body };
}
