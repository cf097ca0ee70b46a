import { Injectable } from '@nestjs/common';
import type { NodeInfo } from '../cluster/node-registry';
import { GatewayConfig } from '../config/gateway.config';
import { NodePool } from './node-pool.service';

export interface Forwarded {
  status: number;
  body: unknown;
  /** the node that answered */
  node: string;
}

export class NoNodeError extends Error {}

/**
 * The admin API calls the balancer answers through a node (clients, query, kick, push, the
 * operator's drain/shed, the overview): every node's governance app serves the whole cluster's
 * view from Redis and etcd, so any healthy one will do. A call that could not reach a node (refused,
 * reset before an answer) is tried on the next; one that reached a node and then timed out is not
 * (a kick or a push may have happened), and the caller gets 504.
 */
@Injectable()
export class NodeApi {
  private turn = 0;

  constructor(
    private readonly config: GatewayConfig,
    private readonly pool: NodePool,
  ) {}

  /** healthy nodes first, in turn, then the others (a node's admin API may answer while it is not ready) */
  private order(): NodeInfo[] {
    const all = this.pool.all();
    const healthy = all.filter((n) => n.healthy);
    const rest = all.filter((n) => !n.healthy);
    const start = healthy.length ? this.turn++ % healthy.length : 0;
    return [...healthy.slice(start), ...healthy.slice(0, start), ...rest].map((n) => n.info);
  }

  async call(method: string, pathAndQuery: string, authorization: string | undefined, body?: unknown): Promise<Forwarded> {
    const targets = this.order();
    if (targets.length === 0) throw new NoNodeError('no gateway node is registered');
    const errors: string[] = [];
    for (const { id: node, adminUrl } of targets.slice(0, 3)) {
      let res: Response;
      try {
        res = await fetch(`${adminUrl.replace(/\/+$/, '')}${pathAndQuery}`, {
          method,
          headers: {
            ...(authorization ? { authorization } : {}),
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          body: body !== undefined ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(this.config.balancer.forwardTimeoutMs),
        });
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        if (e.name === 'TimeoutError')
          return {
            status: 504,
            node,
            body: { error: 'gateway_timeout', message: `node ${node} did not answer within ${this.config.balancer.forwardTimeoutMs} ms` },
          };
        errors.push(`${node}: ${e.cause?.code ?? e.message}`);
        continue;
      }
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: passed on as text
      }
      return { status: res.status, body: parsed, node };
    }
    throw new NoNodeError(`no node answered: ${errors.join('; ')}`);
  }
}
