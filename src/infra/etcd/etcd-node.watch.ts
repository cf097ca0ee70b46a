import type { Watcher } from 'etcd3';
import { NodeWatch } from '../../balancer/node-watch';
import type { NodeInfo } from '../../cluster/node-registry';
import { logger } from '../../common/logger';
import { EtcdConnection } from './etcd.connection';
import { readAndWatch } from './prefix-watch';

const log = logger('node-watch');

function parseNode(value: string): NodeInfo | undefined {
  try {
    const n = JSON.parse(value) as Partial<NodeInfo>;
    const strings = [n.id, n.wsUrl, n.adminUrl, n.state].every((v) => typeof v === 'string');
    const numbers = [n.online, n.users, n.capacity, n.updatedAt].every((v) => typeof v === 'number' && Number.isFinite(v));
    if (strings && numbers) return n as NodeInfo;
  } catch {
    // not JSON: skipped below
  }
  return undefined;
}

/** The nodes' registrations under `prefix`, read once and then watched from the next revision. */
export class EtcdNodeWatch extends NodeWatch {
  private watcher?: Watcher;
  private readonly byKey = new Map<string, NodeInfo>();

  constructor(
    private readonly etcd: EtcdConnection,
    private readonly prefix: string,
  ) {
    super();
  }

  async start(onChange: (nodes: NodeInfo[]) => void): Promise<void> {
    this.watcher = await readAndWatch(this.etcd, this.prefix, 'nodes', {
      put: (key, value) => this.put(key, value),
      delete: (key) => this.byKey.delete(key),
      changed: () => onChange([...this.byKey.values()]),
    });
  }

  private put(key: string, value: string): void {
    const node = parseNode(value);
    if (!node) {
      log.warn({ key, value: value.slice(0, 200) }, 'skipping a node registration that is not a node entry');
      this.byKey.delete(key);
      return;
    }
    this.byKey.set(key, node);
  }

  async stop(): Promise<void> {
    await this.watcher?.cancel();
  }
}
