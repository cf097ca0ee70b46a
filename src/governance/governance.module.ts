import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { BackendModule } from '../backend/backend.module';
import { ClusterModule } from '../cluster/cluster.module';
import { DependencyProbes } from '../common/probe';
import { ConfigModule } from '../config/config.module';
import { GatewayConfig } from '../config/gateway.config';
import { EtcdConnection } from '../infra/etcd/etcd.connection';
import { EtcdModule } from '../infra/etcd/etcd.module';
import { KafkaConnection } from '../infra/kafka/kafka.connection';
import { KafkaModule } from '../infra/kafka/kafka.module';
import { RedisConnection } from '../infra/redis/redis.connection';
import { RedisModule } from '../infra/redis/redis.module';
import { LinkModule } from '../link/link.module';
import { MetricsModule } from '../metrics/metrics.module';
import { PushModule } from '../push/push.module';
import { RoomsModule } from '../rooms/rooms.module';
import { SessionModule } from '../session/session.module';
import { AdminTokenGuard } from './admin/admin-token.guard';
import { AdminController } from './admin/admin.controller';
import { ControlController } from './admin/control.controller';
import { LiveOverview } from './admin/live-overview.service';
import { OverviewController } from './admin/overview.controller';
import { OverviewSource } from './admin/overview';
import { OverviewService } from './admin/overview.service';
import { ApiErrorFilter } from './api-error.filter';
import { HealthController } from './health/health.controller';
import { MetricsController } from './metrics/metrics.controller';
import { SdController } from './sd/sd.controller';
import { UiController } from './ui/ui.controller';
import { WebhookController } from './webhook/webhook.controller';

/**
 * The governance app's routes (:9003): terminus health, Prometheus metrics, the admin API
 * (with the operator's drain / shed / undrain, and the overview, live stream and query the
 * admin UI reads), the admin web UI itself at /ui, the alert webhook.
 * They read and act on the node through the parts' modules, like any other part.
 */
@Module({
  imports: [
    TerminusModule.forRoot({ logger: false }),
    ConfigModule,
    MetricsModule,
    BackendModule,
    ClusterModule,
    SessionModule,
    LinkModule,
    PushModule,
    RoomsModule,
    RedisModule,
    EtcdModule,
    KafkaModule,
  ],
  controllers: [HealthController, MetricsController, AdminController, ControlController, OverviewController, WebhookController, SdController, UiController],
  providers: [
    {
      // what /health checks: the dependencies of the mode. Readiness needs only the session
      // store: an upgrade writes its session first and pushes route through Redis, while with
      // etcd down the node keeps serving (its lease is renewed when etcd returns) and with Kafka
      // down links connect and API pushes flow (events are dropped and counted)
      provide: DependencyProbes,
      inject: [GatewayConfig, RedisConnection, EtcdConnection, KafkaConnection],
      useFactory: (config: GatewayConfig, redis: RedisConnection, etcd: EtcdConnection, kafka: KafkaConnection): DependencyProbes =>
        config.mode === 'cluster'
          ? {
              probes: [
                { name: 'redis', requiredForReady: true, check: (t: number) => redis.ping(t) },
                { name: 'etcd', requiredForReady: false, check: (t: number) => etcd.ping(t) },
                { name: 'kafka', requiredForReady: false, check: (t: number) => kafka.ping(t) },
              ],
            }
          : { probes: [] },
    },
    AdminTokenGuard,
    OverviewService,
    { provide: OverviewSource, useExisting: OverviewService },
    LiveOverview,
    { provide: APP_FILTER, useClass: ApiErrorFilter },
  ],
})
export class GovernanceModule {}
