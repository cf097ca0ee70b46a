import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { SessionStore } from '../session/session.store';
import { NodeRegistry } from './node-registry';

const log = logger('sessions');

/**
 * Removes the sessions of nodes that died without a word (SIGKILL, a lost machine): every
 * session.reconcileIntervalMs, a node the directory records sessions for but that is not in the
 * registry (its lease ended) on two passes in a row has its sessions dropped. Any node may do it
 * (it is idempotent). A node that is alive but lost etcd for longer than its lease gets its links
 * listed again by its own reconciler within one interval.
 */
@Injectable()
export class DeadNodeSweeper implements OnModuleInit, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  /** nodes missing from the registry on the last pass */
  private missing = new Set<string>();

  constructor(
    private readonly config: GatewayConfig,
    private readonly sessions: SessionStore,
    private readonly registry: NodeRegistry,
    private readonly metrics: GatewayMetrics,
  ) {}

  onModuleInit(): void {
    if (this.config.mode !== 'cluster') return;
    this.timer = setInterval(() => void this.sweep(), this.config.session.reconcileIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One pass; never throws (an unreachable registry skips the pass: nothing is removed on doubt). */
  async sweep(): Promise<void> {
    try {
      const [registered, recorded] = await Promise.all([this.registry.list(), this.sessions.nodes()]);
      const alive = new Set(registered.map((n) => n.id));
      const missing = new Set(recorded.filter((id) => id !== this.config.node.id && !alive.has(id)));
      for (const node of missing) {
        if (!this.missing.has(node)) continue;
        const removed = await this.sessions.removeNode(node);
        if (removed) {
          this.metrics.sessionsReconciled.inc({ change: 'removed' }, removed);
          log.warn({ node, removed }, 'removed the sessions of a node that left the cluster without deregistering');
        }
      }
      this.missing = missing;
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'dead-node sweep skipped');
    }
  }
}
