import { BusHandler, BusMessage, ClusterBus } from '../../bus/cluster-bus';

/**
 * The bus of embedded mode: there is one node, and a node never receives its own publishes
 * (it delivers to its own links itself), so nothing ever travels on it.
 */
export class MemoryClusterBus extends ClusterBus {
  onMessage(_handler: BusHandler): void {}
  /** in process: never interrupted */
  onInterrupted(_handler: () => void): void {}
  async subscribe(_channel: string): Promise<void> {}
  async unsubscribe(_channel: string): Promise<void> {}
  async publish(_channel: string, _message: BusMessage): Promise<number> {
    return 0;
  }
  async close(): Promise<void> {}
}
