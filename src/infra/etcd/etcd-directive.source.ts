import type { Watcher } from 'etcd3';
import type { Directive } from '../../cluster/control';
import { DirectiveSource, NORMAL, parseDirective } from '../../cluster/directive-source';
import { logger } from '../../common/logger';
import { EtcdConnection } from './etcd.connection';

const log = logger('directives');

/**
 * The node's own directive key (`<controlPrefix>directives/<nodeId>`): read once, then watched
 * from the next revision. etcd3's watcher reconnects by itself after etcd restarts; on every
 * (re)connect the key is read again, and a value is applied only when its revision is newer
 * than the last one applied, so a read racing a watch event never goes back in time.
 */
export class EtcdDirectiveSource extends DirectiveSource {
  private watcher?: Watcher;
  private lastRev = -1n;
  private onDirective?: (directive: Directive) => void;
  private stopped = false;

  constructor(
    private readonly etcd: EtcdConnection,
    private readonly key: string,
  ) {
    super();
  }

  async watch(onDirective: (directive: Directive) => void): Promise<void> {
    this.onDirective = onDirective;
    const rev = await this.read();
    this.watcher = await this.etcd.client
      .watch()
      .key(this.key)
      .startRevision((rev + 1n).toString())
      .create();
    this.watcher.on('put', (kv) => this.apply(BigInt(kv.mod_revision), kv.value.toString()));
    this.watcher.on('delete', (kv) => this.apply(BigInt(kv.mod_revision), undefined));
    this.watcher.on('disconnected', (err) => log.warn({ err: err.message }, 'directive watch lost its connection (etcd3 reconnects it)'));
    this.watcher.on('connected', () => {
      if (this.stopped) return;
      this.read().catch((err: Error) => log.warn({ err: err.message }, 'directive re-read after reconnect failed'));
    });
    this.watcher.on('error', (err) => log.warn({ err: err.message }, 'directive watch error'));
  }

  /** Reads the key; returns the revision the read saw. */
  private async read(): Promise<bigint> {
    const res = await this.etcd.client.get(this.key).exec();
    const kv = res.kvs[0];
    if (kv) this.apply(BigInt(kv.mod_revision), kv.value.toString());
    else this.apply(BigInt(res.header.revision), undefined);
    return BigInt(res.header.revision);
  }

  private apply(rev: bigint, value: string | undefined): void {
    if (rev <= this.lastRev || this.stopped) return;
    this.lastRev = rev;
    if (value === undefined) {
      this.onDirective?.(NORMAL);
      return;
    }
    const parsed = parseDirective(value);
    if (!parsed.ok) {
      log.warn({ key: this.key, problem: parsed.problem, value: value.slice(0, 200) }, 'ignoring a directive that is not a Directive; keeping the last one');
      return;
    }
    this.onDirective?.(parsed.directive);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watcher?.cancel().catch(() => undefined);
  }
}
