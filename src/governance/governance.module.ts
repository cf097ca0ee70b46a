import { DynamicModule, INestApplicationContext, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { NodeRegistry } from '../cluster/node-registry';
import { NodeState } from '../cluster/node-state';
import { DependencyProbes } from '../common/probe';
import { GatewayConfig } from '../config/gateway.config';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { PushService } from '../push/push.service';
import { SessionStore } from '../session/session.store';
import { RoomStore } from '../rooms/room.store';
import { AdminTokenGuard } from './admin/admin-token.guard';
import { AdminController } from './admin/admin.controller';
import { ApiErrorFilter } from './api-error.filter';
import { HealthController } from './health/health.controller';
import { MetricsController } from './metrics/metrics.controller';

/**
 * The governance app (:9003), its own Nest app on its own port. It shares the gateway app's
 * singletons (metrics, sessions, push, state) rather than building a second set. Nest runs
 * lifecycle hooks on shared instances once per app, so shared classes keep their hooks idempotent.
 */
@Module({})
export class GovernanceModule {
  static forGateway(gateway: INestApplicationContext): DynamicModule {
    const share = [GatewayConfig, GatewayMetrics, NodeState, SessionStore, PushService, NodeRegistry, DependencyProbes, RoomStore].map((token) => ({
      provide: token,
      useValue: gateway.get(token as never, { strict: false }),
    }));
    return {
      module: GovernanceModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController, MetricsController, AdminController],
      providers: [...share, AdminTokenGuard, { provide: APP_FILTER, useClass: ApiErrorFilter }],
    };
  }
}
