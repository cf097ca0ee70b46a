import { Controller, Get, HttpCode, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { NodeState } from '../../cluster/node-state';
import { RemoteUplinkBackend } from '../../backend/remote-uplink.backend';
import { DependencyProbe, DependencyProbes } from '../../common/probe';
import { GatewayConfig } from '../../config/gateway.config';

/**
 * /health: every dependency of the mode (cluster: redis, etcd, kafka), 503 naming the one
 * that failed, and the backends per biz with their circuit states (informational, never down). /health/live: the process answers. /health/ready: whether the node can accept
 * and serve links: state `running` (not starting, not draining) and the dependencies that
 * serving needs up (the session store, Redis in cluster mode). etcd or Kafka being down does
 * not fail readiness: links still connect and pushes still flow, so taking every node out of
 * the balancer for it would turn a partial outage into a full one.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly probes: DependencyProbes,
    private readonly state: NodeState,
    private readonly config: GatewayConfig,
    private readonly backends: RemoteUplinkBackend,
  ) {}

  /** informational: the backends per biz with their circuits; a dead backend never fails the node's health */
  private backendReport() {
    const session = this.indicator.check('backends');
    const byBiz: Record<string, { instances: number; open: number; list: ReturnType<RemoteUplinkBackend['circuitStates']> }> = {};
    for (const i of this.backends.circuitStates()) {
      const b = (byBiz[i.bizId] ??= { instances: 0, open: 0, list: [] });
      b.instances++;
      if (i.circuit === 'open') b.open++;
      b.list.push(i);
    }
    return session.up({ bizs: byBiz });
  }

  private checks(probes: ReadonlyArray<DependencyProbe>) {
    const timeout = this.config.governance.healthTimeoutMs;
    return probes.map((probe) => async () => {
      const session = this.indicator.check(probe.name);
      const started = Date.now();
      try {
        await probe.check(timeout);
        return session.up({ latencyMs: Date.now() - started });
      } catch (err) {
        return session.down({ message: (err as Error).message || 'unreachable' });
      }
    });
  }

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([...this.checks(this.probes.probes), async () => this.backendReport()]);
  }

  @Get('live')
  @HttpCode(200)
  live() {
    return { status: 'ok', node: this.config.node.id, state: this.state.state };
  }

  @Get('ready')
  @HealthCheck()
  async ready() {
    if (!this.state.accepting) throw new ServiceUnavailableException({ status: 'error', error: { node: { status: 'down', state: this.state.state } } });
    return this.health.check(this.checks(this.probes.probes.filter((p) => p.requiredForReady)));
  }
}
