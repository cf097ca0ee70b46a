import { Module } from '@nestjs/common';
import { GovernanceModule } from './governance/governance.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { LinkEventModule } from './linkevent/linkevent.module';

/**
 * The node: the WebSocket gateway (linkevent, on the gateway port through GatewayWsAdapter),
 * the governance routes (on this app's own HTTP server) and the lifecycle. Everything else is
 * imported by the parts that use it: docs/architecture.md draws the graph.
 */
@Module({ imports: [LinkEventModule, GovernanceModule, LifecycleModule] })
export class AppModule {}
