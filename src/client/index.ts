/**
 * The client SDK, Node entry (`dist/client/index.js`): the WebSocket is `ws`, and the token
 * goes in the Authorization header. `browser.ts` exports the same API over the global WebSocket.
 */
import { BaseGatewayClient } from './client';
import { nodeTransport } from './node-transport';
import type { GatewayClientOptions } from './types';

export class GatewayClient extends BaseGatewayClient {
  constructor(options: GatewayClientOptions) {
    super(options, { transport: () => nodeTransport, tokenVia: 'header' });
  }
}

export { BaseGatewayClient } from './client';
export { backoffDelay, parseRetryAfter } from './backoff';
export { tokenExpiry } from './jwt';
export { nodeTransport } from './node-transport';
export { webSocketTransport } from './web-transport';
export * from './types';
