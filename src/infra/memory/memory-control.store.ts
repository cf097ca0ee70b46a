import { ControlEvents, ControlStore, ControlWatch } from '../../cluster/control-store';
import { AlertRecord, ControlRequest, Directive } from '../../cluster/control';

/** Embedded mode and unit tests: the same guarantees within one process (records expire after `alertTtlMs`). */
export class MemoryControlStore extends ControlStore {
  private readonly alertsByKey = new Map<string, { record: AlertRecord; expiresAt: number }>();
  private readonly requests = new Map<string, ControlRequest>();
  private readonly directivesByNode = new Map<string, Directive>();
  private readonly watchers = new Set<ControlEvents>();
  /** who reads the directives written here in process (embedded mode: the node's own follower) */
  private readonly directiveReaders = new Set<(nodeId: string, directive: Directive) => void>();

  constructor(
    private readonly alertTtlMs = 3600_000,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  private expire(): void {
    const now = this.now();
    for (const [k, v] of this.alertsByKey) if (v.expiresAt <= now) this.alertsByKey.delete(k);
  }

  async recordAlert(record: AlertRecord): Promise<'recorded' | 'repeat'> {
    this.expire();
    const id = `${record.nodeId}/${record.key}`;
    if (this.alertsByKey.has(id)) return 'repeat';
    this.alertsByKey.set(id, { record, expiresAt: this.now() + this.alertTtlMs });
    for (const w of this.watchers) w.alert(record);
    return 'recorded';
  }

  async alerts(): Promise<AlertRecord[]> {
    this.expire();
    return [...this.alertsByKey.values()].map((v) => v.record);
  }

  async recordRequest(request: ControlRequest): Promise<void> {
    this.requests.set(request.id, request);
    for (const w of this.watchers) w.request(request);
  }

  async deleteRequest(id: string): Promise<void> {
    this.requests.delete(id);
  }

  async writeDirective(nodeId: string, directive: Directive): Promise<void> {
    this.directivesByNode.set(nodeId, directive);
    for (const read of this.directiveReaders) read(nodeId, directive);
  }

  /** `read` gets every directive written from now on (what the etcd watch is in cluster mode) */
  onDirective(read: (nodeId: string, directive: Directive) => void): void {
    this.directiveReaders.add(read);
  }

  /** one node's directive (the leader reads them all through directives(); tests read one) */
  async directive(nodeId: string): Promise<Directive | undefined> {
    return this.directivesByNode.get(nodeId);
  }

  async directives(): Promise<Map<string, Directive>> {
    return new Map(this.directivesByNode);
  }

  async watch(events: ControlEvents): Promise<ControlWatch> {
    for (const a of await this.alerts()) events.alert(a);
    for (const r of this.requests.values()) events.request(r);
    this.watchers.add(events);
    return { stop: async () => void this.watchers.delete(events) };
  }
}
