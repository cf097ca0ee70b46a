import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { BackendDiscovery, BackendInstance } from './backend-discovery';
import { BackendTransport } from './backend-transport';

const log = logger('backends');

/** The backend instances of every biz: the configured ones (backend.static) and the discovered ones. */
@Injectable()
export class BackendDirectory implements OnModuleInit, OnApplicationShutdown {
  private readonly configured: BackendInstance[];
  private byBiz = new Map<string, BackendInstance[]>();

  constructor(
    config: GatewayConfig,
    private readonly discovery: BackendDiscovery,
    private readonly transport: BackendTransport,
    private readonly metrics: GatewayMetrics,
  ) {
    this.configured = config.backend.static.map((entry) => {
      const [bizId, addr] = entry.split('=');
      return { bizId, id: `static:${addr}`, addr };
    });
  }

  async onModuleInit(): Promise<void> {
    this.update([]);
    await this.discovery.start((found) => this.update(found));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.discovery.stop();
    this.transport.close();
  }

  private update(found: BackendInstance[]): void {
    const before = this.byBiz;
    const next = new Map<string, BackendInstance[]>();
    for (const i of [...this.configured, ...found]) next.set(i.bizId, [...(next.get(i.bizId) ?? []), i]);
    this.byBiz = next;
    const addrs = new Set([...next.values()].flat().map((i) => i.addr));
    for (const [bizId, list] of before) {
      for (const gone of list.filter((i) => !addrs.has(i.addr))) {
        this.transport.forget(gone.addr);
        this.metrics.backendCircuit.remove({ biz: bizId, instance: gone.id });
      }
      if (!next.has(bizId)) this.metrics.backendInstances.set({ biz: bizId }, 0);
    }
    for (const [bizId, list] of next) this.metrics.backendInstances.set({ biz: bizId }, list.length);
    log.info({ backends: Object.fromEntries([...next].map(([b, l]) => [b, l.map((i) => `${i.id}@${i.addr}`)])) }, 'backends');
  }

  /** the instances serving `bizId` now (empty: none) */
  instances(bizId: string): readonly BackendInstance[] {
    return this.byBiz.get(bizId) ?? [];
  }

  /** every biz with its instances, for /health and the admin API */
  all(): ReadonlyMap<string, readonly BackendInstance[]> {
    return this.byBiz;
  }
}
