import { Module } from '@nestjs/common';
import { ConfigModule } from '../config/config.module';
import { GatewayConfig } from '../config/gateway.config';
import { EtcdConnection } from '../infra/etcd/etcd.connection';
import { EtcdModule } from '../infra/etcd/etcd.module';
import { EtcdNodeRegistry } from '../infra/etcd/etcd-node.registry';
import { MemoryNodeRegistry } from '../infra/memory/memory-node.registry';
import { LinkModule } from '../link/link.module';
import { SessionModule } from '../session/session.module';
import { ClusterService } from './cluster.service';
import { DeadNodeSweeper } from './dead-node-sweeper.service';
import { MetricsModule } from '../metrics/metrics.module';
import { EventsModule } from '../events/events.module';
import { EtcdDirectiveSource } from '../infra/etcd/etcd-directive.source';
import { MemoryDirectiveSource } from '../infra/memory/memory-directive.source';
import { controlKeys, controlPrefixOf } from './control';
import { DirectiveFollower } from './directive-follower.service';
import { DirectiveSource } from './directive-source';
import { LinkMover } from './link-mover.service';
import { NodeRegistry } from './node-registry';
import { NodeState } from './node-state';
import { PeerDirectory } from './peer-directory.service';

/**
 * Membership: the node's lifecycle state, its etcd registration with live load, the peer list;
 * and drain and redirect: the leader's directive for this node, the paced link mover.
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
      provide: DirectiveSource,
      inject: [GatewayConfig, EtcdConnection],
      useFactory: (config: GatewayConfig, etcd: EtcdConnection) =>
        config.mode === 'cluster'
          ? new EtcdDirectiveSource(etcd, controlKeys(controlPrefixOf(config.etcd)).directive(config.node.id))
          : new MemoryDirectiveSource(),
    },
    ClusterService,
    DeadNodeSweeper,
    PeerDirectory,
    LinkMover,
    DirectiveFollower,
  ],
  exports: [NodeState, NodeRegistry, ClusterService, PeerDirectory, LinkMover, DirectiveFollower, DirectiveSource],
})
export class ClusterModule {}
