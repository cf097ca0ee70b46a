import { Module } from '@nestjs/common';
import { BackendModule } from '../backend/backend.module';
import { ConfigModule } from '../config/config.module';
import { DeliveryModule } from '../delivery/delivery.module';
import { EventsModule } from '../events/events.module';
import { LinkModule } from '../link/link.module';
import { MetricsModule } from '../metrics/metrics.module';
import { RoomsModule } from '../rooms/rooms.module';
import { SessionModule } from '../session/session.module';
import { UpgraderModule } from '../upgrader/upgrader.module';
import { PushControlHandler } from './handlers/push-control.handler';
import { RequestHandler } from './handlers/request.handler';
import { SessionLifecycleHandler } from './handlers/session-lifecycle.handler';
import { TokenRefreshHandler } from './handlers/token-refresh.handler';
import { LinkGateway } from './link.gateway';

/** The Nest WebSocket gateway of client frames, and the handlers it delegates to. */
@Module({
  imports: [ConfigModule, MetricsModule, LinkModule, SessionModule, DeliveryModule, RoomsModule, EventsModule, BackendModule, UpgraderModule],
  providers: [LinkGateway, SessionLifecycleHandler, RequestHandler, PushControlHandler, TokenRefreshHandler],
})
export class LinkEventModule {}
