import { Controller, DynamicModule, Get, HttpCode, Module } from '@nestjs/common';
import { UplinkBackend } from './backend/uplink.backend';
import { EchoBackend } from './backend/echo.backend';
import { Subscriptions } from './bus/subscriptions';
import { ClusterService } from './cluster/cluster.service';
import { NodeState } from './cluster/node-state';
import { CodecRegistry } from './codec/codec.registry';
import { GatewayConfig } from './config/gateway.config';
import { InfraModule } from './infra/infra.module';
import { LinkManager } from './link/link.manager';
import { LinkEventChain } from './linkevent/link-event.chain';
import { LINK_EVENT_HANDLERS } from './linkevent/link-event.handler';
import { HeartbeatHandler } from './linkevent/handlers/heartbeat.handler';
import { RequestHandler } from './linkevent/handlers/request.handler';
import { SessionLifecycleHandler } from './linkevent/handlers/session-lifecycle.handler';
import { TokenRefreshHandler } from './linkevent/handlers/token-refresh.handler';
import { PushControlHandler } from './linkevent/handlers/push-control.handler';
import { PushConsumer } from './push/push-consumer.service';
import { GatewayMetrics } from './metrics/gateway.metrics';
import { PushService } from './push/push.service';
import { JwtVerifier } from './upgrader/jwt.verifier';
import { UpgraderService } from './upgrader/upgrader.service';

/** Plain HTTP on the gateway port: the WebSocket path answers 426 to a request without Upgrade. */
@Controller()
class GatewayHttpController {
  constructor(private readonly config: GatewayConfig) {}

  @Get('ws')
  @HttpCode(426)
  upgradeRequired() {
    return { error: 'upgrade_required', message: `open a WebSocket on ${this.config.gateway.path}` };
  }
}

/** The gateway app (:9002): upgrader, links, sessions, linkevent chain, push delivery. */
@Module({})
export class GatewayModule {
  static forRoot(config: GatewayConfig, metrics: GatewayMetrics): DynamicModule {
    return {
      module: GatewayModule,
      imports: [InfraModule.forRoot(config, metrics)],
      controllers: [GatewayHttpController],
      providers: [
        { provide: GatewayConfig, useValue: config },
        { provide: GatewayMetrics, useValue: metrics },
        { provide: CodecRegistry, useValue: new CodecRegistry(config.codec.default) },
        { provide: UplinkBackend, useClass: EchoBackend },
        NodeState,
        JwtVerifier,
        LinkManager,
        Subscriptions,
        SessionLifecycleHandler,
        HeartbeatHandler,
        TokenRefreshHandler,
        RequestHandler,
        PushControlHandler,
        {
          // the chain's order: session setup first, cheap control frames next, backend last
          provide: LINK_EVENT_HANDLERS,
          useFactory: (...handlers: unknown[]) => handlers,
          inject: [SessionLifecycleHandler, HeartbeatHandler, TokenRefreshHandler, PushControlHandler, RequestHandler],
        },
        LinkEventChain,
        UpgraderService,
        PushService,
        PushConsumer,
        ClusterService,
      ],
      exports: [GatewayConfig, GatewayMetrics, LinkManager, PushService, PushConsumer, ClusterService, NodeState, UpgraderService],
    };
  }
}
