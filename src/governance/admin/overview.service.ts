import { Injectable } from '@nestjs/common';
import { RemoteUplinkBackend } from '../../backend/remote-uplink.backend';
import { ControlStore } from '../../cluster/control-store';
import { LeaderService } from '../../cluster/leader.service';
import { LinkMover } from '../../cluster/link-mover.service';
import { NodeRegistry } from '../../cluster/node-registry';
import { NodeState } from '../../cluster/node-state';
import { withTimeout } from '../../common/timeout';
import { GatewayConfig } from '../../config/gateway.config';
import { backendsByBiz, directiveList, NodeSightings, Overview, OverviewSource, recentAlerts } from './overview';

/**
 * Assembles the admin overview on a node: the registry (with recently vanished nodes kept as
 * unhealthy), the leader as this node sees it, this node's backends and their circuits, the
 * alerts and directives of the operator loop, and this node's own moves. Each read is bounded
 * by governance.healthTimeoutMs; what fails is named in `warnings` and the rest still answers,
 * so the page keeps working while etcd is away.
 */
@Injectable()
export class OverviewService extends OverviewSource {
  private readonly sightings = new NodeSightings();

  constructor(
    private readonly config: GatewayConfig,
    private readonly registry: NodeRegistry,
    private readonly leader: LeaderService,
    private readonly state: NodeState,
    private readonly backends: RemoteUplinkBackend,
    private readonly control: ControlStore,
    private readonly mover: LinkMover,
  ) {
    super();
  }

  async snapshot(): Promise<Overview> {
    const timeout = this.config.governance.healthTimeoutMs;
    const warnings: string[] = [];
    const read = async <T>(what: string, work: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await withTimeout(work(), timeout);
      } catch (err) {
        warnings.push(`${what}: ${(err as Error).message}`);
        return undefined;
      }
    };
    const [listed, alerts, directives] = await Promise.all([
      read('node registry', () => this.registry.list()),
      read('alerts', () => this.control.alerts()),
      read('directives', () => this.control.directives()),
    ]);
    const self = this.config.node.id!;
    const leader = this.leader.leaderId ?? null;
    const at = Date.now();
    const nodes = this.sightings.nodes(
      at,
      listed,
      leader,
      { id: self, running: this.state.state === 'running', state: this.state.state },
      warnings.find((w) => w.startsWith('node registry')),
    );
    return {
      at,
      source: 'node',
      self,
      leader,
      nodes,
      backends: backendsByBiz(this.backends.circuitStates()),
      alerts: recentAlerts(alerts ?? []),
      directives: directiveList(directives ?? new Map()),
      moves: this.mover.recentMoves(),
      ...(warnings.length ? { warnings } : {}),
    };
  }
}
