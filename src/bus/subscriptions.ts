import { Injectable } from '@nestjs/common';
import { ClusterBus } from './cluster-bus';

/** what a live channel's entry holds: one settled promise shared by all */
const LIVE: Promise<void> = Promise.resolve();

/**
 * Reference-counted bus subscriptions: the first holder of a channel subscribes, the last one
 * out unsubscribes. acquire() resolves once the subscription is live, so a caller that waits
 * for it knows later publishes reach this node.
 */
@Injectable()
export class Subscriptions {
  private readonly held = new Map<string, { count: number; ready: Promise<void> }>();

  constructor(private readonly bus: ClusterBus) {}

  acquire(channel: string): Promise<void> {
    const entry = this.held.get(channel);
    if (entry) {
      entry.count++;
      return entry.ready;
    }
    const ready = this.bus.subscribe(channel);
    const fresh = { count: 1, ready };
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
    if (!entry) return;
    if (--entry.count > 0) return;
    this.held.delete(channel);
    this.bus.unsubscribe(channel).catch(() => undefined);
  }

  get size(): number {
    return this.held.size;
  }
}
