import { Etcd3 } from 'etcd3';
import { withTimeout } from '../../common/timeout';

/** The node's etcd client (the only place etcd3 is constructed). */
export class EtcdConnection {
  readonly client: Etcd3;

  constructor(endpoints: string[]) {
    this.client = new Etcd3({ hosts: endpoints, dialTimeout: 3000 });
  }

  async ping(timeoutMs: number): Promise<void> {
    await withTimeout(this.client.maintenance.status(), timeoutMs);
  }

  close(): void {
    this.client.close();
  }
}
