import { Module } from '@nestjs/common';
import { ConfigModule } from '../config/config.module';
import { GatewayConfig } from '../config/gateway.config';
import { EtcdConnection } from '../infra/etcd/etcd.connection';
import { EtcdModule } from '../infra/etcd/etcd.module';
import { EtcdNodeRegistry } from '../infra/etcd/etcd-node.registry';
import { EtcdControlStore } from '../infra/etcd/etcd-control.store';
import { EtcdLeaderElection } from '../infra/etcd/etcd-leader.election';
import { MemoryControlStore } from '../infra/memory/memory-control.store';
import { MemoryLeaderElection } from '../infra/memory/memory-leader.election';
import { MemoryNodeRegistry } from '../infra/memory/memory-node.registry';
import { LinkModule } from '../link/link.module';
import { SessionModule } from '../session/session.module';
import { ClusterService } from './cluster.service';
import { DeadNodeSweeper } from './dead-node-sweeper.service';
import { MetricsModule } from '../metrics/metrics.module';
import { ControlStore } from './control-store';
import { CoordinatorService } from './coordinator.service';
import { DirectiveFollower } from './directive-follower.service';
import { DirectiveSource } from './directive-source';
import { EtcdDirectiveSource } from '../infra/etcd/etcd-directive.source';
import { EventsModule } from '../events/events.module';
import { LeaderElection } from './leader-election';
import { LeaderService } from './leader.service';
import { LinkMover } from './link-mover.service';
import { MemoryDirectiveSource } from '../infra/memory/memory-directive.source';
import { controlKeys, controlPrefixOf } from './control';
import { NodeRegistry } from './node-registry';
import { NodeState } from './node-state';
import { PeerDirectory } from './peer-directory.service';

/**
 * Membership: the node's lifecycle state, its etcd registration with live load, the peer list;
 * the leader election and, on the leader, the coordinator that turns alerts and operator
 * requests (ControlStore) into directives; and drain and redirect: the leader's directive for
 * this node, the paced link mover.
 */
@Module({
  imports: [ConfigModule, MetricsModule, EtcdModule, LinkModule, SessionModule, EventsModule],
  providers: [
    NodeState,
    {
      provide: NodeRegistry,
      inject: [GatewayConfig, EtcdConnection],
      useFactory: (config: GatewayConfig, etcd: EtcdConnection) =>
        config.mode === 'cluster' ? new EtcdNodeRegistry(etcd, config.etcd.prefix, config.etcd.leaseTtlSec) : new MemoryNodeRegistry(),
    },
    {
      provide: ControlStore,
      inject: [GatewayConfig, EtcdConnection],
      useFactory: (config: GatewayConfig, etcd: EtcdConnection) =>
        config.mode === 'cluster'
          ? new EtcdControlStore(etcd, controlPrefixOf(config.etcd), config.webhook.alertTtlSec)
          : new MemoryControlStore(config.webhook.alertTtlSec * 1000),
    },
    {
      provide: LeaderElection,
      inject: [GatewayConfig, EtcdConnection],
      useFactory: (config: GatewayConfig, etcd: EtcdConnection) =>
        config.mode === 'cluster'
          ? new EtcdLeaderElection(etcd, controlKeys(controlPrefixOf(config.etcd)).election, config.etcd.leaseTtlSec)
          : new MemoryLeaderElection(),
    },
    LeaderService,
    CoordinatorService,
    {
      provide: DirectiveSource,
      inject: [GatewayConfig, EtcdConnection, ControlStore],
      useFactory: (config: GatewayConfig, etcd: EtcdConnection, store: ControlStore) => {
        if (config.mode === 'cluster') return new EtcdDirectiveSource(etcd, controlKeys(controlPrefixOf(config.etcd)).directive(config.node.id));
        // embedded: the node is its own leader, and what its coordinator decides reaches its follower in process
        const source = new MemoryDirectiveSource();
        if (store instanceof MemoryControlStore) store.onDirective((nodeId, d) => nodeId === config.node.id && source.set(d));
        return source;
      },
    },
    ClusterService,
    DeadNodeSweeper,
    PeerDirectory,
    LinkMover,
    DirectiveFollower,
  ],
  exports: [NodeState, NodeRegistry, ClusterService, ControlStore, LeaderService, PeerDirectory, LinkMover, DirectiveFollower, DirectiveSource],
})
export class ClusterModule {}
