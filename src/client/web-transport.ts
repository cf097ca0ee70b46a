import type { Transport, WebSocketConstructor, WebSocketLike } from './types';

/**
 * A transport over any WHATWG WebSocket (browsers, Node 22's global, `ws`). It cannot set
 * headers nor see an HTTP refusal: a refused upgrade looks like a close 1006 before opening.
 */
export function webSocketTransport(WebSocketImpl: WebSocketConstructor): Transport {
  return (request, handlers) => {
    let done = false;
    const ws: WebSocketLike = new WebSocketImpl(request.url, request.protocols);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => handlers.open(ws.protocol);
    ws.onmessage = (event: { data: unknown }) => {
      const { data } = event;
      if (typeof data === 'string') handlers.message(data);
      else if (data instanceof ArrayBuffer) handlers.message(new Uint8Array(data));
      else if (ArrayBuffer.isView(data)) handlers.message(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    };
    ws.onerror = () => {
      if (!done) handlers.error(new Error(`WebSocket error on ${redact(request.url)}`));
    };
    ws.onclose = (event: { code: number; reason: string }) => {
      if (done) return;
      done = true;
      handlers.close(event.code, event.reason);
    };
    return {
      send: (data) => ws.send(data),
      close: (code, reason) => ws.close(code, reason),
      // a WHATWG socket has no terminate: close it and report the end at once
      terminate: () => {
        try {
          ws.close();
        } catch {
          // already closing
        }
        if (!done) {
          done = true;
          handlers.close(1006, 'terminated');
        }
      },
    };
  };
}

/** The URL without a `?token=` value, for messages. */
export function redact(url: string): string {
  return url.replace(/([?&]token=)[^&]*/, '$1…');
}

/** The global WebSocket (browsers, Node >= 22), or undefined. */
export function globalWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}
