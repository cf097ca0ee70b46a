import { BusHandler, BusMessage, ClusterBus } from '../../bus/cluster-bus';
import { logger } from '../../common/logger';
import { busPayload } from './redis-bus.wire';
import { RedisConnection } from './redis.connection';

const log = logger('redis-bus');

/**
 * Redis pub/sub. Channels are prefixed with the key prefix so several gateways can share a
 * Redis. ioredis re-subscribes every channel after a reconnect; once it has (a PING on the
 * subscriber connection is answered after its SUBSCRIBEs), the interruption handlers run. A
 * payload is `<sender node id>\n<JSON>`, so a node drops its own publishes before parsing them.
 */
export class RedisClusterBus extends ClusterBus {
  private readonly handlers: BusHandler[] = [];
  private readonly interrupted: (() => void)[] = [];
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisConnection,
    private readonly nodeId: string,
  ) {
    super();
    this.prefix = redis.keyPrefix;
    const own = Buffer.from(busPayload(nodeId, ''));
    // buffers, not strings: the node's own publishes (a push announced by the mailbox to a user
    // whose links are here) are recognised by their first bytes and dropped without decoding
    redis.subscriber.on('messageBuffer', (channelBuf: Buffer, payload: Buffer) => {
      if (payload.length >= own.length && payload.compare(own, 0, own.length, 0, own.length) === 0) return;
      const channel = channelBuf.toString();
      let message: BusMessage;
      try {
        message = JSON.parse(payload.toString('utf8', payload.indexOf(10) + 1)) as BusMessage;
      } catch {
        log.warn({ channel }, 'dropping a bus message that is not JSON');
        return;
      }
      const local = channel.slice(this.prefix.length);
      for (const h of this.handlers) h(local, message);
    });
    const sub = redis.subscriber;
    redis.onRestored('subscriber', () => {
      // ioredis queued the re-SUBSCRIBEs before announcing `ready`: this PING is answered after them
      sub.ping().then(
        () => {
          log.warn('bus connection restored: messages published meanwhile may be lost; filling from the mailbox');
          for (const h of this.interrupted) h();
        },
        (err: Error) => log.warn({ err: err.message }, 'bus ping after reconnect failed'),
      );
    });
  }

  onInterrupted(handler: () => void): void {
    this.interrupted.push(handler);
  }

  onMessage(handler: BusHandler): void {
    this.handlers.push(handler);
  }

  async subscribe(channel: string): Promise<void> {
    await this.redis.subscriber.subscribe(this.prefix + channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    await this.redis.subscriber.unsubscribe(this.prefix + channel);
  }

  async publish(channel: string, message: BusMessage): Promise<number> {
    return this.redis.command.publish(this.prefix + channel, busPayload(this.nodeId, JSON.stringify(message)));
  }

  async close(): Promise<void> {
    // the connection owner closes the clients
  }
}
