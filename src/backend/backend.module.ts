import { Module } from '@nestjs/common';
import { EchoBackend } from './echo.backend';
import { UplinkBackend } from './uplink.backend';

/** Where client `req` frames go (and room approvals): the built-in echo backend until gRPC backends land. */
@Module({
  providers: [{ provide: UplinkBackend, useClass: EchoBackend }],
  exports: [UplinkBackend],
})
export class BackendModule {}
