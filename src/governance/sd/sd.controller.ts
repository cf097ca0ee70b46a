import { Controller, Get, Header, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import { hostPortOf, NodeInfo, NodeRegistry } from '../../cluster/node-registry';
import { withTimeout } from '../../common/timeout';
import { GatewayConfig } from '../../config/gateway.config';
import { AdminTokenGuard } from '../admin/admin-token.guard';

/** One target group of Prometheus HTTP service discovery (https://prometheus.io/docs/prometheus/latest/http_sd/). */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/**
 * One group per node, so each carries its own labels; the target is the node's governance
 * `host:port` as it advertises it in `adminUrl` (hostPortOf), which is also the `instance` label
 * of every series scraped from it, so an alert on `sum by (instance) (...)` names the node by the
 * string `/webhook/v1` matches the registrations against. `node` (the node id) becomes a label of
 * every series scraped from it; the rest are `__meta_gateway_*` labels, there for relabeling
 * and dropped otherwise: a label that changes during a target's life (its state) would
 * otherwise start new series for every metric of that node exactly when it is shedding load.
 */
export function targetGroups(nodes: NodeInfo[]): TargetGroup[] {
  return [...nodes]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((n) => ({
      targets: [hostPortOf(n.adminUrl)],
      labels: {
        node: n.id,
        __meta_gateway_state: n.state,
        __meta_gateway_ws_url: n.wsUrl,
        __meta_gateway_capacity: String(n.capacity),
      },
    }));
}

/**
 * Prometheus HTTP service discovery from the node registry (etcd in cluster mode): point an
 * `http_sd_configs` entry at any node's `/api/sd` with the admin bearer token and every node is
 * scraped, including the ones that join later. Prometheus keeps its last good list while this
 * answers an error, so 503 while etcd is away drops no target.
 */
@Controller('api')
@UseGuards(AdminTokenGuard)
export class SdController {
  constructor(
    private readonly nodes: NodeRegistry,
    private readonly config: GatewayConfig,
  ) {}

  @Get('sd')
  @Header('Content-Type', 'application/json; charset=utf-8')
  async discover(): Promise<TargetGroup[]> {
    try {
      return targetGroups(await withTimeout(this.nodes.list(), this.config.governance.healthTimeoutMs));
    } catch (err) {
      throw new ServiceUnavailableException({ error: 'unavailable', message: `cannot list nodes for discovery: ${(err as Error).message}` });
    }
  }
}
