import { Module } from '@nestjs/common';
import { ClusterModule } from '../cluster/cluster.module';
import { CodecModule } from '../codec/codec.module';
import { ConfigModule } from '../config/config.module';
import { Admission } from '../link/admission';
import { LinkModule } from '../link/link.module';
import { SessionModule } from '../session/session.module';
import { JwtVerifier } from './jwt.verifier';
import { UpgraderService } from './upgrader.service';

/** Who may become a link: path, node state, capacity, per-IP rate, origin, token, codec; the session stored first. */
@Module({
  imports: [ConfigModule, LinkModule, SessionModule, CodecModule, ClusterModule],
  providers: [JwtVerifier, UpgraderService, { provide: Admission, useExisting: UpgraderService }],
  exports: [Admission, JwtVerifier],
})
export class UpgraderModule {}
