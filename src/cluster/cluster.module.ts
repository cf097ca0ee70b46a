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
import { NodeRegistry } from './node-registry';
import { NodeState } from './node-state';

/** Membership: the node's lifecycle state, its etcd registration with live load, the peer list. */
@Module({
  imports: [ConfigModule, MetricsModule, EtcdModule, LinkModule, SessionModule],
  providers: [
    NodeState,
    {
      provide: NodeRegistry,
      inject: [GatewayConfig, EtcdConnection],
      useFactory: (config: GatewayConfig, etcd: EtcdConnection) =>
        config.mode === 'cluster' ? new EtcdNodeRegistry(etcd, config.etcd.prefix, config.etcd.leaseTtlSec) : new MemoryNodeRegistry(),
    },
    ClusterService,
    DeadNodeSweeper,
  ],
  exports: [NodeState, NodeRegistry, ClusterService],
})
export class ClusterModule {}
