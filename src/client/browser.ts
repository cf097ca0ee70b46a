/**
 * The client SDK, browser entry (`dist/client/browser.js`, an ES module): the WebSocket is the
 * global one, and the token goes as the subprotocol `bearer.<jwt>` (browsers cannot set headers).
 * Same API as the Node entry.
 */
import { BaseGatewayClient } from './client';
import type { GatewayClientOptions } from './types';
import { globalWebSocket, webSocketTransport } from './web-transport';

export class GatewayClient extends BaseGatewayClient {
  constructor(options: GatewayClientOptions) {
    super(options, {
      transport: () => {
        const WebSocketImpl = globalWebSocket();
        if (!WebSocketImpl) throw new TypeError('GatewayClient: no global WebSocket here; pass options.WebSocket');
        return webSocketTransport(WebSocketImpl);
      },
      tokenVia: 'protocol',
    });
  }
}

export { BaseGatewayClient } from './client';
export { backoffDelay, parseRetryAfter } from './backoff';
export { tokenExpiry } from './jwt';
export { webSocketTransport } from './web-transport';
export * from './types';
