import { NodeWatch } from '../../balancer/node-watch';
import type { NodeInfo } from '../../cluster/node-registry';

/** Unit tests: the registrations are whatever the test sets. */
export class MemoryNodeWatch extends NodeWatch {
  private listener?: (nodes: NodeInfo[]) => void;
  private nodes: NodeInfo[] = [];

  async start(onChange: (nodes: NodeInfo[]) => void): Promise<void> {
    this.listener = onChange;
    onChange(this.nodes);
  }

  set(nodes: NodeInfo[]): void {
    this.nodes = nodes;
    this.listener?.(nodes);
  }

  async stop(): Promise<void> {
    this.listener = undefined;
  }
}
