import { Module } from '@nestjs/common';
import { BusModule } from '../bus/bus.module';
import { ConfigModule } from '../config/config.module';
import { LinkModule } from '../link/link.module';
import { MailboxModule } from '../mailbox/mailbox.module';
import { MetricsModule } from '../metrics/metrics.module';
import { RoomsModule } from '../rooms/rooms.module';
import { LocalDelivery } from './local-delivery.service';

/** Writing pushes to this node's links: per-link cursors, holds, resume from the mailbox. */
@Module({
  imports: [ConfigModule, MetricsModule, BusModule, MailboxModule, RoomsModule, LinkModule],
  providers: [LocalDelivery],
  exports: [LocalDelivery],
})
export class DeliveryModule {}
