import { Module } from '@nestjs/common';
import { ConfigModule } from '../config/config.module';
import { GatewayConfig } from '../config/gateway.config';
import { CodecRegistry } from './codec.registry';

/** JSON and protobuf frame codecs generated from proto/, chosen per link. */
@Module({
  imports: [ConfigModule],
  providers: [{ provide: CodecRegistry, inject: [GatewayConfig], useFactory: (config: GatewayConfig) => new CodecRegistry(config.codec.default) }],
  exports: [CodecRegistry],
})
export class CodecModule {}
