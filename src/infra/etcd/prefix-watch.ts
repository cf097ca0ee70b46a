import type { Watcher } from 'etcd3';
import { logger } from '../../common/logger';
import { EtcdConnection } from './etcd.connection';

const log = logger('etcd-watch');

/** what one watched prefix does with its keys */
export interface PrefixHandlers {
  /** a key was read or put (a value it cannot use is the handler's to skip and log) */
  put(key: string, value: string): void;
  /** a key was deleted (or its lease ended); true when that changed anything */
  delete(key: string): boolean;
  /** after the first read and after every event that changed something */
  changed(): void;
}

/**
 * Reads every key under `prefix` once, then watches the prefix from the next revision, so no
 * change between the read and the watch is missed (etcd3 re-creates the watch after a lost
 * connection, from where it stopped). `what` names the watch in its error logs.
 */
export async function readAndWatch(etcd: EtcdConnection, prefix: string, what: string, h: PrefixHandlers): Promise<Watcher> {
  const res = await etcd.client.getAll().prefix(prefix).exec();
  for (const kv of res.kvs) h.put(kv.key.toString(), kv.value.toString());
  h.changed();
  const next = (BigInt(res.header.revision) + 1n).toString();
  const watcher = await etcd.client.watch().prefix(prefix).startRevision(next).create();
  watcher.on('put', (kv) => {
    h.put(kv.key.toString(), kv.value.toString());
    h.changed();
  });
  watcher.on('delete', (kv) => {
    if (h.delete(kv.key.toString())) h.changed();
  });
  watcher.on('error', (err) => log.warn({ err: err.message, watch: what }, 'etcd watch error (etcd3 reconnects it)'));
  return watcher;
}
