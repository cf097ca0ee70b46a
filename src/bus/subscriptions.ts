import { Injectable } from '@nestjs/common';
import { ClusterBus } from './cluster-bus';

/** what a live channel's entry holds: one settled promise shared by all */
const LIVE: Promise<void> = Promise.resolve();

/**
 * How long a channel nobody holds stays subscribed. A reloading tab or a reconnect storm
 * re-acquires within it without an unsubscribe/subscribe round trip each; and a push that saw
 * this node listening (see `isLive`) is announced before the unsubscribe can reach Redis.
 */
export const RELEASE_LINGER_MS = 2000;

interface Entry {
  count: number;
  ready: Promise<void>;
  /** the pending unsubscribe of a channel nobody holds any more */
  linger?: NodeJS.Timeout;
}

/**
 * Reference-counted bus subscriptions: the first holder of a channel subscribes, the last one
 * out unsubscribes (RELEASE_LINGER_MS later). acquire() resolves once the subscription is live,
 * so a caller that waits for it knows later publishes reach this node.
 */
@Injectable()
export class Subscriptions {
  private readonly held = new Map<string, Entry>();

  constructor(private readonly bus: ClusterBus) {}

  acquire(channel: string): Promise<void> {
    const entry = this.held.get(channel);
    if (entry) {
      if (entry.linger) {
        clearTimeout(entry.linger);
        entry.linger = undefined;
      }
      entry.count++;
      return entry.ready;
    }
    const ready = this.bus.subscribe(channel);
    const fresh: Entry = { count: 1, ready };
    this.held.set(channel, fresh);
    ready.then(
      // one shared settled promise once live, rather than one kept per channel (per user online)
      () => (fresh.ready = LIVE),
      () => {
        // a failed subscribe must not stick: the next acquire tries again
        if (this.held.get(channel) === fresh) this.held.delete(channel);
      },
    );
    return ready;
  }

  release(channel: string): void {
    const entry = this.held.get(channel);
    if (!entry || entry.count === 0) return;
    if (--entry.count > 0) return;
    entry.linger = setTimeout(() => {
      if (this.held.get(channel) !== entry || entry.count > 0) return;
      this.held.delete(channel);
      this.bus.unsubscribe(channel).catch(() => undefined);
    }, RELEASE_LINGER_MS);
    entry.linger.unref();
  }

  /** held by someone here and confirmed subscribed on the bus */
  isLive(channel: string): boolean {
    const entry = this.held.get(channel);
    return entry !== undefined && entry.count > 0 && entry.ready === LIVE;
  }
}
