import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module';
import { ConfigModule } from '../config/config.module';
import { LinkModule } from '../link/link.module';
import { PushModule } from '../push/push.module';
import { LifecycleService } from './lifecycle.service';

/** Boot order and drain. */
@Module({
  imports: [ConfigModule, ClusterModule, PushModule, LinkModule],
  providers: [LifecycleService],
  exports: [LifecycleService],
})
export class LifecycleModule {}
