import { NodeInfo, NodeRegistry } from '../../cluster/node-registry';

/** Embedded mode: the node is its own cluster. */
export class MemoryNodeRegistry extends NodeRegistry {
  private self?: NodeInfo;
  async register(info: NodeInfo): Promise<void> {
    this.self = info;
  }
  async update(info: NodeInfo): Promise<void> {
    this.self = info;
  }
  async deregister(): Promise<void> {
    this.self = undefined;
  }
  async list(): Promise<NodeInfo[]> {
    return this.self ? [this.self] : [];
  }
}
