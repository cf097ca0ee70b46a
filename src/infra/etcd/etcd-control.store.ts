import type { IKeyValue, Watcher } from 'etcd3';
import { ControlEvents, ControlStore, ControlWatch } from '../../cluster/control-store';
import { AlertRecord, controlKeys, ControlRequest, Directive } from '../../cluster/control';
import { logger } from '../../common/logger';
import { EtcdConnection } from './etcd.connection';

const log = logger('control');

function parse<T>(kv: IKeyValue): T | undefined {
  try {
    return JSON.parse(kv.value.toString()) as T;
  } catch {
    log.warn({ key: kv.key.toString() }, 'skipping a control key that is not JSON');
    return undefined;
  }
}

/**
 * The control key space of control.ts in etcd. An alert is created in a transaction that puts
 * its key only if the key's create revision is 0 (it does not exist), on a lease of its own
 * (`ttlSec`, not kept alive) so records expire by themselves; requests and directives carry no
 * lease: a request is deleted by the leader once acted on, a directive stays until replaced.
 */
export class EtcdControlStore extends ControlStore {
  private readonly keys: ReturnType<typeof controlKeys>;

  constructor(
    private readonly etcd: EtcdConnection,
    private readonly prefix: string,
    private readonly alertTtlSec: number,
  ) {
    super();
    this.keys = controlKeys(prefix);
  }

  async recordAlert(record: AlertRecord): Promise<'recorded' | 'repeat'> {
    const key = this.keys.alert(record.nodeId, record.key);
    const client = this.etcd.client;
    // a repeat is the common case (Alertmanager resends every group each repeat_interval): no lease for it
    if ((await client.get(key).exec()).kvs.length) return 'repeat';
    const lease = client.lease(this.alertTtlSec, { autoKeepAlive: false });
    try {
      const leaseId = await lease.grant();
      const res = await client
        .if(key, 'Create', '==', 0)
        .then(client.put(key).value(JSON.stringify(record)).lease(leaseId))
        .commit();
      if (res.succeeded) return 'recorded';
      await lease.revoke().catch(() => undefined);
      return 'repeat';
    } finally {
      lease.release();
    }
  }

  async alerts(): Promise<AlertRecord[]> {
    const res = await this.etcd.client.getAll().prefix(this.keys.alerts).exec();
    return res.kvs.flatMap((kv) => parse<AlertRecord>(kv) ?? []);
  }

  async recordRequest(request: ControlRequest): Promise<void> {
    await this.etcd.client.put(this.keys.request(request.id)).value(JSON.stringify(request));
  }

  async deleteRequest(id: string): Promise<void> {
    await this.etcd.client.delete().key(this.keys.request(id));
  }

  async writeDirective(nodeId: string, directive: Directive): Promise<void> {
    await this.etcd.client.put(this.keys.directive(nodeId)).value(JSON.stringify(directive));
  }

  async directives(): Promise<Map<string, Directive>> {
    const res = await this.etcd.client.getAll().prefix(this.keys.directives).exec();
    const out = new Map<string, Directive>();
    for (const kv of res.kvs) {
      const d = parse<Directive>(kv);
      if (d) out.set(kv.key.toString().slice(this.keys.directives.length), d);
    }
    return out;
  }

  /** one snapshot of the whole control prefix, then one watch from its next revision: nothing between is missed */
  async watch(events: ControlEvents): Promise<ControlWatch> {
    const client = this.etcd.client;
    const deliver = (kv: IKeyValue) => {
      const key = kv.key.toString();
      if (key.startsWith(this.keys.alerts)) {
        const a = parse<AlertRecord>(kv);
        if (a) events.alert(a);
      } else if (key.startsWith(this.keys.requests)) {
        const r = parse<ControlRequest>(kv);
        if (r) events.request(r);
      }
    };
    const snapshot = await client.getAll().prefix(this.prefix).sort('Mod', 'Ascend').exec();
    for (const kv of snapshot.kvs) deliver(kv);
    const next = (BigInt(snapshot.header.revision) + 1n).toString();
    const watcher: Watcher = await client.watch().prefix(this.prefix).startRevision(next).create();
    watcher.on('put', deliver);
    watcher.on('error', (err) => log.warn({ err: err.message }, 'control watch error (etcd3 reconnects it)'));
    return { stop: () => watcher.cancel() };
  }
}
