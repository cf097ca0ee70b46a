import { Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConfigModule } from '../../config/config.module';
import { GatewayConfig } from '../../config/gateway.config';
import { EtcdConnection } from './etcd.connection';

/** The node's etcd client (cluster mode): boot waits until etcd answers; shutdown closes it. */
@Module({
  imports: [ConfigModule],
  providers: [{ provide: EtcdConnection, inject: [GatewayConfig], useFactory: (config: GatewayConfig) => new EtcdConnection(config.etcd.endpoints) }],
  exports: [EtcdConnection],
})
export class EtcdModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly config: GatewayConfig,
    private readonly etcd: EtcdConnection,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.config.mode === 'cluster') await this.etcd.ping(10000);
  }

  onApplicationShutdown(): void {
    this.etcd.close();
  }
}
