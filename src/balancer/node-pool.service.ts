import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { NodeInfo } from '../cluster/node-registry';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { BalancerMetrics } from './balancer.metrics';
import { NodeProbe } from './node-probe';
import { NodeWatch } from './node-watch';
import { Candidate, Strategy } from './strategy';

const log = logger('node-pool');

/** how long a node whose registration ended stays listed (unhealthy), so an operator sees it go */
export const GONE_KEPT_MS = 60_000;

/** One gateway node as this balancer sees it. */
export interface PooledNode {
  info: NodeInfo;
  /** passed its last probe, and no upgrade failed to reach it since */
  healthy: boolean;
  /** epoch ms of the last probe, null before the first answered */
  lastCheck: number | null;
  lastError?: string;
  /** links this balancer sent it since its registration last reported its load */
  sinceReport: number;
  /** epoch ms its registration ended (lease expired: dead; or deregistered: drained) */
  goneAt?: number;
}

/**
 * The nodes a new link may go to: the etcd registrations (watched), each probed at
 * `/health/ready` every balancer.checkIntervalMs. A node is a candidate while it is registered,
 * `running` (not shedding, not draining, not starting) and healthy. It is taken out at once when
 * a probe fails or an upgrade cannot reach it, and put back when a probe passes again; a newly
 * registered node is probed at once and is a candidate from its first passing probe.
 */
@Injectable()
export class NodePool implements OnModuleInit, OnApplicationShutdown {
  private readonly nodes = new Map<string, PooledNode>();
  private readonly gone = new Map<string, PooledNode>();
  private readonly strategy: Strategy;
  private timer?: NodeJS.Timeout;
  private readonly unreachableListeners = new Set<(nodeId: string) => void>();
  private stopped = false;

  constructor(
    private readonly config: GatewayConfig,
    private readonly watch: NodeWatch,
    private readonly prober: NodeProbe,
    private readonly metrics: BalancerMetrics,
  ) {
    this.strategy = new Strategy(config.balancer.strategy);
  }

  async onModuleInit(): Promise<void> {
    await this.watch.start((list) => this.update(list));
    this.timer = setInterval(() => void this.probeAll(), this.config.balancer.checkIntervalMs);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.watch.stop();
  }

  get strategyName(): string {
    return this.strategy.name;
  }

  /** `fn(nodeId)` runs when a node stops answering at all (dead or hung): its proxied links are to be closed */
  onUnreachable(fn: (nodeId: string) => void): void {
    this.unreachableListeners.add(fn);
  }

  private update(list: NodeInfo[]): void {
    const seen = new Set<string>();
    for (const info of list) {
      seen.add(info.id);
      const known = this.nodes.get(info.id);
      if (!known) {
        this.gone.delete(info.id);
        const node: PooledNode = { info, healthy: false, lastCheck: null, sinceReport: 0 };
        this.nodes.set(info.id, node);
        log.info({ node: info.id, ws: info.wsUrl, state: info.state }, 'node registered');
        void this.probe(node);
        continue;
      }
      // a fresh load report counts what this balancer sent before it
      if (info.updatedAt !== known.info.updatedAt) known.sinceReport = 0;
      if (info.state !== known.info.state) log.info({ node: info.id, state: info.state }, 'node state');
      known.info = info;
    }
    for (const [id, node] of this.nodes) {
      if (seen.has(id)) continue;
      this.nodes.delete(id);
      this.gone.set(id, { ...node, healthy: false, goneAt: Date.now(), lastError: 'registration gone (lease ended, or the node deregistered)' });
      this.metrics.nodeHealthy.remove({ node: id });
      log.info({ node: id }, 'node registration gone');
    }
  }

  private async probeAll(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => this.probe(n)));
  }

  private async probe(node: PooledNode): Promise<void> {
    const result = await this.prober.probe(node.info.adminUrl, this.config.balancer.checkTimeoutMs);
    if (this.stopped || this.nodes.get(node.info.id) !== node) return;
    node.lastCheck = Date.now();
    if (result.ok) {
      if (!node.healthy) log.info({ node: node.info.id }, 'node healthy');
      node.healthy = true;
      node.lastError = undefined;
    } else {
      this.setUnhealthy(node, result.error, !result.reachable);
    }
    this.metrics.nodeHealthy.set({ node: node.info.id }, node.healthy ? 1 : 0);
  }

  private setUnhealthy(node: PooledNode, error: string, unreachable: boolean): void {
    if (node.healthy || node.lastCheck === null) log.warn({ node: node.info.id, err: error }, 'node unhealthy: no new links until a probe passes');
    node.healthy = false;
    node.lastError = error;
    this.metrics.nodeHealthy.set({ node: node.info.id }, 0);
    if (unreachable) for (const fn of this.unreachableListeners) fn(node.info.id);
  }

  /** an upgrade could not reach the node: out at once, until a probe passes */
  reportUnreachable(nodeId: string, error: string): void {
    const node = this.nodes.get(nodeId);
    if (node) this.setUnhealthy(node, error, true);
  }

  /** the nodes a new link of `userId` tries, in order */
  candidates(userId: string): NodeInfo[] {
    const eligible: (Candidate & { info: NodeInfo })[] = [];
    for (const n of this.nodes.values()) {
      if (!n.healthy || n.info.state !== 'running') continue;
      eligible.push({ id: n.info.id, load: n.info.online + n.sinceReport, capacity: n.info.capacity, info: n.info });
    }
    return this.strategy.order(eligible, userId).map((c) => (c as Candidate & { info: NodeInfo }).info);
  }

  /** a link is being sent to the node (least_conn counts it until the node's next load report) */
  routed(nodeId: string): void {
    const n = this.nodes.get(nodeId);
    if (n) n.sinceReport++;
  }

  /** an upgrade sent to the node did not become a link there */
  unrouted(nodeId: string): void {
    const n = this.nodes.get(nodeId);
    if (n && n.sinceReport > 0) n.sinceReport--;
  }

  get(nodeId: string): PooledNode | undefined {
    return this.nodes.get(nodeId);
  }

  /** nodes whose registration ended within GONE_KEPT_MS, newest first */
  recentlyGone(now = Date.now()): PooledNode[] {
    for (const [id, n] of this.gone) if (now - n.goneAt! > GONE_KEPT_MS) this.gone.delete(id);
    return [...this.gone.values()].sort((a, b) => b.goneAt! - a.goneAt!);
  }

  all(): PooledNode[] {
    return [...this.nodes.values()].sort((a, b) => (a.info.id < b.info.id ? -1 : 1));
  }
}
