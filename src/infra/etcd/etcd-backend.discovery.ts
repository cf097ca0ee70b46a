import type { Watcher } from 'etcd3';
import { BackendDiscovery, BackendInstance } from '../../backend/backend-discovery';
import { logger } from '../../common/logger';
import { EtcdConnection } from './etcd.connection';
import { readAndWatch } from './prefix-watch';

const log = logger('backends');
const ADDR = /^[^\s:]+:\d{1,5}$/;

/**
 * Backends from etcd: the keys under `<prefix><bizId>/<instance>`, read once, then watched from
 * the next revision (a registration or a lease's end arrives as a put or delete event).
 */
export class EtcdBackendDiscovery extends BackendDiscovery {
  private watcher?: Watcher;
  private readonly byKey = new Map<string, BackendInstance>();

  constructor(
    private readonly etcd: EtcdConnection,
    private readonly prefix: string,
  ) {
    super();
  }

  async start(onChange: (instances: BackendInstance[]) => void): Promise<void> {
    this.watcher = await readAndWatch(this.etcd, this.prefix, 'backends', {
      put: (key, value) => this.put(key, value),
      delete: (key) => this.byKey.delete(key),
      changed: () => onChange([...this.byKey.values()]),
    });
  }

  private put(key: string, value: string): void {
    const [bizId, id] = key.slice(this.prefix.length).split('/');
    let addr: unknown;
    try {
      addr = (JSON.parse(value) as { addr?: unknown }).addr;
    } catch {
      addr = undefined;
    }
    if (!bizId || !id || typeof addr !== 'string' || !ADDR.test(addr)) {
      log.warn({ key, value: value.slice(0, 200) }, 'skipping a backend registration that is not {"addr": "host:port"} under <prefix><bizId>/<instance>');
      this.byKey.delete(key);
      return;
    }
    this.byKey.set(key, { bizId, id, addr });
  }

  async stop(): Promise<void> {
    await this.watcher?.cancel();
  }
}
