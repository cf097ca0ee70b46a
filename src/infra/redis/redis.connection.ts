import Redis, { RedisOptions } from 'ioredis';
import { logger } from '../../common/logger';
import { withTimeout } from '../../common/timeout';

const log = logger('redis');

type Role = 'command' | 'subscriber';

/**
 * Owns the node's Redis connections: one for commands, one in subscriber mode for the bus.
 * Each client connects when first used, so embedded mode, which uses none, opens nothing;
 * RedisModule waits for them at boot in cluster mode (`waitReady`). Commands fail fast while Redis is away (no offline queue), so
 * callers answer 503 instead of piling up work; the clients reconnect with capped exponential
 * backoff.
 */
export class RedisConnection {
  private command_?: Redis;
  private subscriber_?: Redis;
  private readonly restored: Record<Role, (() => void)[]> = { command: [], subscriber: [] };

  constructor(
    readonly url: string,
    readonly keyPrefix: string,
    /** the connection name Redis shows (CLIENT LIST); the role is appended */
    private readonly name = 'ws-gateway',
  ) {}

  /** the command client, connected on first use */
  get command(): Redis {
    this.command_ ??= this.create('command');
    return this.command_;
  }

  /**
   * `fn` runs each time the role's client is ready again after its connection was lost (closed):
   * what was sent or published meanwhile may be gone, so callers repair what depends on it
   */
  onRestored(role: Role, fn: () => void): void {
    this.restored[role].push(fn);
  }

  private create(role: Role): Redis {
    const options: RedisOptions = {
      lazyConnect: false,
      enableOfflineQueue: role === 'subscriber',
      maxRetriesPerRequest: 1,
      // generous: a busy event loop at boot must not pass for an unreachable Redis
      connectTimeout: 10000,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      connectionName: `${this.name}:${role}`,
      // many small commands from concurrent pushes share round trips
      enableAutoPipelining: role === 'command',
    };
    const client = new Redis(this.url, options);
    let down = false;
    let lost = false;
    client.on('error', (err) => {
      if (!down) log.warn({ role, err: err.message }, 'redis connection error');
      down = true;
    });
    client.on('close', () => (lost = true));
    client.on('ready', () => {
      if (down) log.info({ role }, 'redis connection restored');
      down = false;
      if (!lost) return;
      lost = false;
      for (const fn of this.restored[role]) fn();
    });
    return client;
  }

  get subscriber(): Redis {
    this.subscriber_ ??= this.create('subscriber');
    return this.subscriber_;
  }

  /**
   * Resolves once the command connection, and the subscriber if one exists, are ready; rejects
   * after `timeoutMs` naming the URL. Boot waits on this so the bus is live before `running`.
   */
  async waitReady(timeoutMs: number): Promise<void> {
    const clients = [this.command, ...(this.subscriber_ ? [this.subscriber_] : [])].filter((c) => c.status !== 'ready');
    const ready = clients.map((c) => new Promise<void>((resolve) => c.once('ready', () => resolve())));
    await withTimeout(Promise.all(ready), timeoutMs).catch((err: Error) => {
      throw new Error(`redis at ${redact(this.url)} not reachable: ${err.message}`);
    });
  }

  /** Resolves when Redis answers PING within `timeoutMs`. */
  async ping(timeoutMs: number): Promise<void> {
    await withTimeout(this.command.ping(), timeoutMs);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.command_?.quit(), this.subscriber_?.quit()]);
    this.command_?.disconnect();
    this.subscriber_?.disconnect();
  }
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
