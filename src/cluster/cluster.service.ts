import { Injectable } from '@nestjs/common';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { LinkManager } from '../link/link.manager';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { SessionStore } from '../session/session.store';
import { NodeInfo, NodeRegistry } from './node-registry';
import { NodeState } from './node-state';

const log = logger('cluster');

/** The registration's `state`: the lifecycle, then what a directive made of a running node. */
export function publishedState(state: NodeState): NodeInfo['state'] {
  if (state.state === 'starting') return 'starting';
  if (state.state !== 'running' || state.load === 'draining') return 'draining';
  return state.load === 'shedding' ? 'shedding' : 'running';
}

/**
 * Joins the cluster once the node can serve, publishes its live load every
 * etcd.loadIntervalMs (and at once when its state changes). A draining node stays registered,
 * as `draining`, until its links are gone: balancers and peers stop sending it clients, while
 * peers keep its sessions (DeadNodeSweeper drops the sessions of unregistered nodes).
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
    private readonly metrics: GatewayMetrics,
  ) {}

  /** the registration, and the shedding gauge beside it (1 while shedding or draining) */
  private publish(): NodeInfo {
    const info = this.info();
    this.metrics.nodeShedding.set(info.state === 'shedding' || info.state === 'draining' ? 1 : 0);
    return info;
  }

  info(): NodeInfo {
    const { gateway, governance, node } = this.config;
    return {
      id: node.id,
      wsUrl: gateway.publicUrl,
      adminUrl: `http://${governance.host}:${governance.port}`,
      online: this.links.registry.size,
      users: this.links.registry.userCount,
      capacity: gateway.maxConnections,
      state: publishedState(this.state),
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
      this.registry.update(this.publish()).catch((err: Error) => log.warn({ err: err.message }, 'load update failed'));
    }, this.config.etcd.loadIntervalMs);
    this.timer.unref();
    log.info({ node: this.config.node.id, mode: this.config.mode }, 'node registered');
  }

  /** Publishes the current state now (e.g. the moment the node starts accepting). */
  async refresh(): Promise<void> {
    await this.registry.update(this.publish());
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
