import type { Watcher } from 'etcd3';
import { NodeWatch } from '../../balancer/node-watch';
import type { NodeInfo } from '../../cluster/node-registry';
import { logger } from '../../common/logger';
import { EtcdConnection } from './etcd.connection';

const log = logger('node-watch');

function parseNode(value: string): NodeInfo | undefined {
  try {
    const n = JSON.parse(value) as Partial<NodeInfo>;
    if (typeof n.id === 'string' && typeof n.wsUrl === 'string' && typeof n.adminUrl === 'string' && typeof n.state === 'string') return n as NodeInfo;
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
    const emit = () => onChange([...this.byKey.values()]);
    const res = await this.etcd.client.getAll().prefix(this.prefix).exec();
    for (const kv of res.kvs) this.put(kv.key.toString(), kv.value.toString());
    emit();
    const next = (BigInt(res.header.revision) + 1n).toString();
    this.watcher = await this.etcd.client.watch().prefix(this.prefix).startRevision(next).create();
    this.watcher.on('put', (kv) => {
      this.put(kv.key.toString(), kv.value.toString());
      emit();
    });
    this.watcher.on('delete', (kv) => {
      if (this.byKey.delete(kv.key.toString())) emit();
    });
    this.watcher.on('error', (err) => log.warn({ err: err.message }, 'node watch error (etcd3 reconnects it)'));
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
