import { BusHandler, BusMessage, ClusterBus } from '../../bus/cluster-bus';

/** The in-process bus of embedded mode: one node, so publish is a direct call. */
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
  async publish(channel: string, message: BusMessage): Promise<number> {
    if (!this.channels.has(channel)) return 0;
    for (const h of this.handlers) h(channel, message);
    return 1;
  }
  async close(): Promise<void> {
    this.channels.clear();
  }
}
