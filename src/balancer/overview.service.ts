import { Injectable } from '@nestjs/common';
import { GatewayConfig } from '../config/gateway.config';
import { Overview, OverviewNode, OverviewSource } from '../governance/admin/overview';
import { NodeApi } from './node-api.service';
import { NodePool, PooledNode } from './node-pool.service';
import { WsProxy } from './ws-proxy.service';

/** one gateway node as GET /api/backends and the UI show it from the balancer */
export interface BalancedNode extends OverviewNode {
  /** the node's WebSocket URL (the original system's name for it) */
  url: string;
  /** links the node reports (all of them: through any balancer, or direct) */
  links: number;
  /** links this balancer proxies to it */
  proxied: number;
  /** still registered in etcd (false: its lease ended or it deregistered, kept for a minute) */
  registered: boolean;
  strategy: string;
}

/**
 * The UI's overview as the balancer serves it: what a node's /api/overview says about the
 * cluster (leader, backends, alerts, directives, moves), with the node list replaced by this
 * balancer's own view (its probes, the links it proxies, the nodes whose registration ended
 * lately). Asked with the balancer's admin token, which is the nodes' own.
 */
@Injectable()
export class BalancerOverview extends OverviewSource {
  constructor(
    private readonly config: GatewayConfig,
    private readonly pool: NodePool,
    private readonly proxy: WsProxy,
    private readonly api: NodeApi,
  ) {
    super();
  }

  nodes(leader: string | null = null): BalancedNode[] {
    const shape = (n: PooledNode, registered: boolean): BalancedNode => ({
      id: n.info.id,
      url: n.info.wsUrl,
      wsUrl: n.info.wsUrl,
      adminUrl: n.info.adminUrl,
      state: n.info.state,
      links: n.info.online,
      online: n.info.online,
      users: n.info.users,
      capacity: n.info.capacity,
      proxied: this.proxy.linksOf(n.info.id),
      healthy: registered && n.healthy,
      registered,
      lastCheck: n.lastCheck,
      ...(n.lastError ? { error: n.lastError } : {}),
      strategy: this.pool.strategyName,
      leader: n.info.id === leader,
    });
    return [...this.pool.all().map((n) => shape(n, true)), ...this.pool.recentlyGone().map((n) => shape(n, false))];
  }

  async snapshot(): Promise<Overview> {
    let cluster: Partial<Overview> = {};
    const warnings: string[] = [];
    try {
      const res = await this.api.call('GET', '/api/overview', `Bearer ${this.config.governance.adminToken ?? ''}`);
      if (res.status === 200 && typeof res.body === 'object' && res.body !== null) cluster = res.body as Overview;
      else warnings.push(`node ${res.node} answered /api/overview with ${res.status}`);
    } catch (err) {
      warnings.push(`the cluster's view (leader, backends, alerts, moves) is unavailable: ${(err as Error).message}`);
    }
    const leader = typeof cluster.leader === 'string' ? cluster.leader : null;
    const all = [...(cluster.warnings ?? []), ...warnings];
    return {
      backends: cluster.backends ?? [],
      alerts: cluster.alerts ?? [],
      directives: cluster.directives ?? [],
      moves: cluster.moves ?? [],
      at: Date.now(),
      source: 'balancer',
      self: this.config.node.id!,
      leader,
      strategy: this.pool.strategyName,
      nodes: this.nodes(leader),
      ...(all.length ? { warnings: all } : {}),
    };
  }
}
