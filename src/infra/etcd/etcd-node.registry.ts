import type { Lease } from 'etcd3';
import { NodeInfo, NodeRegistry } from '../../cluster/node-registry';
import { logger } from '../../common/logger';
import { EtcdConnection } from './etcd.connection';

const log = logger('etcd-registry');

/**
 * `<prefix><id>` -> NodeInfo JSON on a lease kept alive by etcd3. If the lease is lost (etcd
 * unreachable past the TTL), the entry is re-created on a fresh lease at the next update.
 */
export class EtcdNodeRegistry extends NodeRegistry {
  private lease?: Lease;
  private last?: NodeInfo;

  constructor(
    private readonly etcd: EtcdConnection,
    private readonly prefix: string,
    private readonly ttlSec: number,
  ) {
    super();
  }

  private key(id: string): string {
    return `${this.prefix}${id}`;
  }

  async register(info: NodeInfo): Promise<void> {
    this.last = info;
    const lease = this.etcd.client.lease(this.ttlSec, { autoKeepAlive: true });
    lease.on('lost', (err: Error) => {
      log.warn({ err: err.message }, 'etcd lease lost; re-registering at the next update');
      if (this.lease === lease) this.lease = undefined;
    });
    await lease.put(this.key(info.id)).value(JSON.stringify(info));
    this.lease = lease;
  }

  async update(info: NodeInfo): Promise<void> {
    if (!this.lease) return this.register(info);
    this.last = info;
    await this.lease.put(this.key(info.id)).value(JSON.stringify(info));
  }

  async deregister(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    if (this.last) await this.etcd.client.delete().key(this.key(this.last.id));
    if (lease) await lease.revoke().catch(() => undefined);
  }

  async list(): Promise<NodeInfo[]> {
    const all = await this.etcd.client.getAll().prefix(this.prefix).strings();
    return Object.values(all).flatMap((json) => {
      try {
        return [JSON.parse(json) as NodeInfo];
      } catch {
        return [];
      }
    });
  }
}
