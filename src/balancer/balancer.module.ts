import { Module } from '@nestjs/common';
import { ConfigModule } from '../config/config.module';
import { GatewayConfig } from '../config/gateway.config';
import { AdminTokenGuard } from '../governance/admin/admin-token.guard';
import { LiveOverview } from '../governance/admin/live-overview.service';
import { OverviewSource } from '../governance/admin/overview';
import { EtcdConnection } from '../infra/etcd/etcd.connection';
import { EtcdModule } from '../infra/etcd/etcd.module';
import { EtcdNodeWatch } from '../infra/etcd/etcd-node.watch';
import { JwtVerifier } from '../upgrader/jwt.verifier';
import { BalancerController } from './balancer.controller';
import { BalancerMetrics } from './balancer.metrics';
import { NodeApi } from './node-api.service';
import { NodePool } from './node-pool.service';
import { HttpNodeProbe, NodeProbe } from './node-probe';
import { NodeWatch } from './node-watch';
import { BalancerOverview } from './overview.service';
import { WsProxy } from './ws-proxy.service';

/**
 * The balancer role (GATEWAY_ROLE=balancer, :8080): the nodes from etcd with their probed
 * health, the /ws proxy, /api/dispatch, the nodes' view and the admin API passed on to a node,
 * the UI. It keeps no state of its own, so several run side by side.
 */
@Module({
  imports: [ConfigModule, EtcdModule],
  controllers: [BalancerController],
  providers: [
    {
      provide: NodeWatch,
      inject: [GatewayConfig, EtcdConnection],
      useFactory: (config: GatewayConfig, etcd: EtcdConnection) => new EtcdNodeWatch(etcd, config.etcd.prefix),
    },
    { provide: NodeProbe, useClass: HttpNodeProbe },
    BalancerMetrics,
    NodePool,
    WsProxy,
    NodeApi,
    BalancerOverview,
    { provide: OverviewSource, useExisting: BalancerOverview },
    LiveOverview,
    JwtVerifier,
    AdminTokenGuard,
  ],
})
export class BalancerModule {}
