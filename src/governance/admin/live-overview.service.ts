import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { logger } from '../../common/logger';
import { GatewayConfig } from '../../config/gateway.config';
import { OverviewSource } from './overview';

const log = logger('governance');

/** a comment line this often keeps proxies and the page's reader from taking a quiet stream for a dead one */
export const LIVE_HEARTBEAT_MS = 15_000;
/** a stream whose reader stopped reading is ended once this much waits unsent */
export const LIVE_MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * GET /api/live: Server-Sent Events, one `overview` event at once on connect and then every
 * governance.liveIntervalMs, with heartbeat comments between. One timer and one snapshot per
 * tick whatever the number of open streams (each tab of the UI is one), started with the first
 * stream and stopped with the last. Before the app closes every stream is ended, so a shutdown
 * never waits on an operator's open page.
 */
@Injectable()
export class LiveOverview implements BeforeApplicationShutdown {
  private readonly streams = new Set<ServerResponse>();
  private ticker?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private ticking = false;
  private closed = false;

  constructor(
    private readonly overview: OverviewSource,
    private readonly config: GatewayConfig,
  ) {}

  /** how many streams are open (for tests and logs) */
  get open(): number {
    return this.streams.size;
  }

  /** Takes over `res` as an event stream until the client goes or the app closes. */
  attach(res: ServerResponse): void {
    if (this.closed) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'service_unavailable', message: 'the node is shutting down' }));
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // nginx and similar proxies would otherwise buffer the stream
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${this.config.governance.liveIntervalMs}\n: connected\n\n`);
    this.streams.add(res);
    res.once('close', () => this.detach(res));
    this.start();
    // the first event at once, for this stream only
    void this.overview.snapshot().then(
      (o) => this.send(res, `event: overview\ndata: ${JSON.stringify(o)}\n\n`),
      (err: Error) => log.warn({ err: err.message }, 'overview failed'),
    );
  }

  private detach(res: ServerResponse): void {
    this.streams.delete(res);
    if (this.streams.size === 0) this.stop();
  }

  private start(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => void this.tick(), this.config.governance.liveIntervalMs);
    this.heartbeat = setInterval(() => this.broadcast(`: heartbeat ${Date.now()}\n\n`), LIVE_HEARTBEAT_MS);
  }

  private stop(): void {
    clearInterval(this.ticker);
    clearInterval(this.heartbeat);
    this.ticker = this.heartbeat = undefined;
  }

  private async tick(): Promise<void> {
    // a snapshot slower than the interval (etcd slow to answer) skips ticks instead of piling them up
    if (this.ticking) return;
    this.ticking = true;
    try {
      const o = await this.overview.snapshot();
      this.broadcast(`event: overview\ndata: ${JSON.stringify(o)}\n\n`);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'overview failed');
    } finally {
      this.ticking = false;
    }
  }

  private broadcast(chunk: string): void {
    for (const res of this.streams) this.send(res, chunk);
  }

  private send(res: ServerResponse, chunk: string): void {
    if (!this.streams.has(res) || res.writableEnded || res.destroyed) return;
    if (res.writableLength > LIVE_MAX_BUFFERED_BYTES) {
      // the reader stopped reading: end it rather than buffer without bound
      res.destroy();
      return;
    }
    res.write(chunk);
  }

  /** ends every stream (the final chunk of each response) and takes no new ones: the node is going */
  endAll(): void {
    this.closed = true;
    this.stop();
    for (const res of [...this.streams]) {
      this.streams.delete(res);
      res.end();
    }
  }

  beforeApplicationShutdown(): void {
    this.endAll();
  }
}
