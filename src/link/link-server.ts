import { Injectable } from '@nestjs/common';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { GatewayConfig } from '../config/gateway.config';

/**
 * The HTTP server of the gateway port (:9002). It serves only WebSocket upgrades (the adapter
 * listens to its `upgrade` event); a plain request to the WebSocket path gets 426 and any other
 * 404, both as JSON. The lifecycle decides when it listens and when it stops.
 */
@Injectable()
export class LinkServer {
  readonly http: Server;

  constructor(private readonly config: GatewayConfig) {
    this.http = createServer((req, res) => this.plain(req, res));
  }

  private plain(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://gateway').pathname;
    const [status, body, headers] =
      path === this.config.gateway.path
        ? [426, { error: 'upgrade_required', message: `open a WebSocket on ${this.config.gateway.path}` }, { Upgrade: 'websocket' }]
        : [404, { error: 'not_found', message: `WebSocket endpoint is ${this.config.gateway.path}` }, {}];
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  listen(): Promise<void> {
    const { port, host } = this.config.gateway;
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops listening and drops idle HTTP connections; upgraded sockets are the links' own. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.http.listening) return resolve();
      this.http.close(() => resolve());
      this.http.closeIdleConnections();
    });
  }
}
