import { Module } from '@nestjs/common';
import { BusModule } from '../bus/bus.module';
import { ConfigModule } from '../config/config.module';
import { MetricsModule } from '../metrics/metrics.module';
import { SessionModule } from '../session/session.module';
import { KickService } from './kick.service';
import { LinkManager } from './link.manager';
import { LinkServer } from './link-server';
import { SessionReconciler } from './session-reconciler.service';

/**
 * Client connections: the gateway port's HTTP server, the open links (registry, heartbeats,
 * coalesced writes, close codes), kicking a link wherever it is, and keeping the session
 * directory true to the links held. The WebSocket server itself
 * is GatewayWsAdapter's (set on the app in main.ts), which hands Nest our links.
 */
@Module({
  imports: [ConfigModule, MetricsModule, SessionModule, BusModule],
  providers: [LinkManager, LinkServer, KickService, SessionReconciler],
  exports: [LinkManager, LinkServer, KickService],
})
export class LinkModule {}
