import { Injectable } from '@nestjs/common';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { LinkManager } from '../link/link.manager';
import { SessionStore } from '../session/session.store';
import { NodeInfo, NodeRegistry } from './node-registry';
import { NodeState } from './node-state';

const log = logger('cluster');

/**
 * Joins the cluster once the node can serve, publishes its live load every
 * etcd.loadIntervalMs, and leaves first when draining so balancers stop sending clients.
 */
@Injectable()
export class ClusterService {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly config: GatewayConfig,
    private readonly registry: NodeRegistry,
    private readonly sessions: SessionStore,
    private readonly links: LinkManager,
    private readonly state: NodeState,
  ) {}

  info(): NodeInfo {
    const { gateway, governance, node } = this.config;
    return {
      id: node.id,
      wsUrl: gateway.publicUrl,
      adminUrl: `http://${governance.host}:${governance.port}`,
      online: this.links.registry.size,
      users: this.links.registry.userCount,
      capacity: gateway.maxConnections,
      state: this.state.state === 'running' ? 'running' : this.state.state === 'starting' ? 'starting' : 'draining',
      startedAt: this.state.startedAt,
      updatedAt: Date.now(),
    };
  }

  /** Clears sessions a previous process with this node id left behind, then registers. */
  async join(): Promise<void> {
    const stale = await this.sessions.removeNode(this.config.node.id);
    if (stale) log.warn({ stale }, 'removed sessions left by an earlier process with this node id');
    await this.registry.register(this.info());
    this.timer = setInterval(() => {
      this.registry.update(this.info()).catch((err: Error) => log.warn({ err: err.message }, 'load update failed'));
    }, this.config.etcd.loadIntervalMs);
    this.timer.unref();
    log.info({ node: this.config.node.id, mode: this.config.mode }, 'node registered');
  }

  /** Publishes the current state now (e.g. the moment the node starts accepting). */
  async refresh(): Promise<void> {
    await this.registry.update(this.info());
  }

  async leave(): Promise<void> {
    clearInterval(this.timer);
    try {
      await this.registry.deregister();
      log.info('node deregistered');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'deregistration failed; the lease will expire');
    }
  }
}
