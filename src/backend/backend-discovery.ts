/** One backend instance serving a biz. */
export interface BackendInstance {
  bizId: string;
  /** the instance's name (its etcd key's last part; `static:<addr>` for a configured one) */
  id: string;
  /** host:port of its gRPC server */
  addr: string;
}

/**
 * Where backend instances come from, besides the configuration (etcd in cluster mode:
 * `/services/backends/<bizId>/<instance>` = `{"addr": "host:port"}` on the instance's lease).
 * Guarantee: `onChange` receives the whole current list after start() and again after every
 * change, within a second of the registration or of the lease's end (a dead instance drops out
 * within its lease TTL); entries that are not `{"addr": "host:port"}` are skipped and logged.
 */
export abstract class BackendDiscovery {
  abstract start(onChange: (instances: BackendInstance[]) => void): Promise<void>;
  abstract stop(): Promise<void>;
}

/** Embedded mode: only the configured backends. */
export class NoBackendDiscovery extends BackendDiscovery {
  async start(onChange: (instances: BackendInstance[]) => void): Promise<void> {
    onChange([]);
  }
  async stop(): Promise<void> {}
}
