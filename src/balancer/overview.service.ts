import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { GatewayConfig } from '../config/gateway.config';
import { NodeApi } from './node-api.service';
import { NodePool, PooledNode } from './node-pool.service';
import { WsProxy } from './ws-proxy.service';

/** one gateway node as GET /api/backends and the UI show it from the balancer */
export interface BalancedNode {
  id: string;
  url: string;
  wsUrl: string;
  adminUrl: string;
  state: string;
  /** links the node reports (all of them, through any balancer or direct) */
  links: number;
  online: number;
  users: number;
  capacity: number;
  /** links this balancer proxies to it */
  proxied: number;
  healthy: boolean;
  registered: boolean;
  lastCheck: number | null;
  error?: string;
  strategy: string;
  leader: boolean;
}

const HEARTBEAT_MS = 15_000;

/**
 * The UI's overview as the balancer serves it: what a node's /api/overview says about the cluster
 * (leader, backends, alerts, directives, moves), with the node list replaced by this balancer's
 * own view (its probes, the links it proxies, the nodes whose registration ended lately).
 */
@Injectable()
export class BalancerOverview implements BeforeApplicationShutdown {
  private readonly streams = new Set<() => void>();

  constructor(
    private readonly config: GatewayConfig,
    private readonly pool: NodePool,
    private readonly proxy: WsProxy,
    private readonly api: NodeApi,
  ) {}

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

  async snapshot(authorization?: string): Promise<Record<string, unknown>> {
    let cluster: Record<string, unknown> = {};
    const warnings: string[] = [];
    try {
      const res = await this.api.call('GET', '/api/overview', authorization);
      if (res.status === 200 && typeof res.body === 'object' && res.body !== null) cluster = res.body as Record<string, unknown>;
      else warnings.push(`node ${res.node} answered /api/overview with ${res.status}`);
    } catch (err) {
      warnings.push(`cluster view unavailable: ${(err as Error).message}`);
    }
    const leader = typeof cluster.leader === 'string' ? cluster.leader : null;
    const nodeWarnings = Array.isArray(cluster.warnings) ? (cluster.warnings as string[]) : [];
    return {
      backends: [],
      alerts: [],
      directives: [],
      moves: [],
      ...cluster,
      at: Date.now(),
      source: 'balancer',
      self: this.config.node.id,
      leader,
      strategy: this.pool.strategyName,
      nodes: this.nodes(leader),
      ...(warnings.length + nodeWarnings.length ? { warnings: [...nodeWarnings, ...warnings] } : {}),
    };
  }

  /** Server-Sent Events: an `overview` event at once and every governance.liveIntervalMs, heartbeat comments between */
  stream(req: IncomingMessage, reply: FastifyReply, authorization?: string): void {
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let busy = false;
    const send = async () => {
      if (busy || res.writableEnded) return;
      busy = true;
      try {
        const snap = await this.snapshot(authorization);
        if (!res.writableEnded) res.write(`event: overview\ndata: ${JSON.stringify(snap)}\n\n`);
      } finally {
        busy = false;
      }
    };
    const tick = setInterval(() => void send(), this.config.governance.liveIntervalMs);
    const beat = setInterval(() => res.writableEnded || res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    const end = () => {
      clearInterval(tick);
      clearInterval(beat);
      this.streams.delete(end);
      if (!res.writableEnded) res.end();
    };
    this.streams.add(end);
    req.once('close', end);
    void send();
  }

  beforeApplicationShutdown(): void {
    for (const end of [...this.streams]) end();
  }
}
