import { BusHandler, BusMessage, ClusterBus } from '../../bus/cluster-bus';

/**
 * The in-process bus of embedded mode: one node, and a node never receives its own publishes,
 * so publish reaches nobody; subscriptions are still tracked for the same bookkeeping.
 */
export class MemoryClusterBus extends ClusterBus {
  private readonly handlers: BusHandler[] = [];
  private readonly channels = new Set<string>();

  onMessage(handler: BusHandler): void {
    this.handlers.push(handler);
  }
  async subscribe(channel: string): Promise<void> {
    this.channels.add(channel);
  }
  async unsubscribe(channel: string): Promise<void> {
    this.channels.delete(channel);
  }
  async publish(_channel: string, _message: BusMessage): Promise<number> {
    return 0;
  }

  /** Test hook: deliver as if another node had published. */
  deliverFromPeer(channel: string, message: BusMessage): void {
    if (this.channels.has(channel)) for (const h of this.handlers) h(channel, message);
  }
  async close(): Promise<void> {
    this.channels.clear();
  }
}
