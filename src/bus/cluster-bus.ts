/** What travels between nodes. Small JSON; the push body is carried as-is. */
export interface PushMessage {
  k: 'push';
  mid: string;
  body: unknown;
  /** epoch ms accepted */
  ts: number;
  /** the target user's cursor (user pushes stored in the mailbox); absent for live-only pushes */
  seq?: number;
  epoch?: string;
  /** epoch ms after which the push is dropped rather than delivered */
  exp?: number;
  room?: string;
  /** for a node channel: the links to deliver to */
  sids?: string[];
  /**
   * a mid seen before: a node may have stored it and died before publishing it, so it is sent
   * again, and links that already have this seq drop it
   */
  redelivery?: boolean;
}

export type BusMessage =
  | PushMessage
  | { k: 'kick'; sid: string; reason: string }
  /** the user joined or left a room: nodes holding the user's links follow the room channel */
  | { k: 'room'; op: 'join' | 'leave'; room: string };

export type BusHandler = (channel: string, message: BusMessage) => void;

/** What a channel name stands for (Channels.parse). */
export type ChannelTarget =
  | { kind: 'user'; bizId: string; userId: string }
  | { kind: 'room'; bizId: string; room: string }
  | { kind: 'biz'; bizId: string }
  | { kind: 'node'; node: string };

/** Channel names; each node subscribes only to the ones it can deliver on. */
export const Channels = {
  user: (bizId: string, userId: string) => `user:${encodeURIComponent(bizId)}:${encodeURIComponent(userId)}`,
  biz: (bizId: string) => `biz:${encodeURIComponent(bizId)}`,
  node: (nodeId: string) => `node:${encodeURIComponent(nodeId)}`,
  room: (bizId: string, room: string) => `room:${encodeURIComponent(bizId)}:${encodeURIComponent(room)}`,
  /** the inverse of the builders above; undefined for a name they cannot make */
  parse(channel: string): ChannelTarget | undefined {
    const [kind, a, b] = channel.split(':');
    if (a === undefined) return undefined;
    switch (kind) {
      case 'user':
        return b === undefined ? undefined : { kind, bizId: decodeURIComponent(a), userId: decodeURIComponent(b) };
      case 'room':
        return b === undefined ? undefined : { kind, bizId: decodeURIComponent(a), room: decodeURIComponent(b) };
      case 'biz':
        return { kind, bizId: decodeURIComponent(a) };
      case 'node':
        return { kind, node: decodeURIComponent(a) };
      default:
        return undefined;
    }
  },
};

/**
 * Node-to-node fan-out (Redis pub/sub in cluster mode, in-process in embedded mode).
 * Guarantees: a message published after subscribe() resolved reaches every OTHER subscribed
 * node's handler once, in publish order per channel, while the bus is connected (the publisher
 * delivers to its own links itself); delivery is at most once: a node that is disconnected
 * misses what was published meanwhile, and is told through onInterrupted() once it is back, so
 * the mailbox can fill in.
 */
export abstract class ClusterBus {
  /** adds a handler for every message received (each part takes the kinds it owns) */
  abstract onMessage(handler: BusHandler): void;
  /**
   * adds a handler called when the bus is live again after losing its connection (every channel
   * subscribed again): messages published meanwhile may never arrive, so receivers fill in what
   * they can from storage
   */
  abstract onInterrupted(handler: () => void): void;
  abstract subscribe(channel: string): Promise<void>;
  abstract unsubscribe(channel: string): Promise<void>;
  /** resolves with the number of subscribed nodes (a listening publisher counts, though it drops its own message) */
  abstract publish(channel: string, message: BusMessage): Promise<number>;
  abstract close(): Promise<void>;
}
