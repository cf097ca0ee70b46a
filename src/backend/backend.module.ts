import { Module } from '@nestjs/common';
import { logger } from '../common/logger';
import { ConfigModule } from '../config/config.module';
import { GatewayConfig } from '../config/gateway.config';
import { EtcdBackendDiscovery } from '../infra/etcd/etcd-backend.discovery';
import { EtcdConnection } from '../infra/etcd/etcd.connection';
import { EtcdModule } from '../infra/etcd/etcd.module';
import { GrpcBackendTransport } from '../infra/grpc/grpc-backend.transport';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { MetricsModule } from '../metrics/metrics.module';
import { BackendDirectory } from './backend-directory.service';
import { BackendDiscovery, NoBackendDiscovery } from './backend-discovery';
import { BackendTransport } from './backend-transport';
import { RemoteUplinkBackend } from './remote-uplink.backend';
import { UplinkBackend } from './uplink.backend';

const log = logger('backends');

/**
 * Where client `req` frames go (and room approvals): gRPC backends per biz, from etcd (cluster
 * mode) and backend.static, with deadlines, retries, circuit breakers and a per-biz bound; the
 * built-in echo backend for a biz without one when backend.echo says so.
 */
@Module({
  imports: [ConfigModule, MetricsModule, EtcdModule],
  providers: [
    { provide: BackendTransport, useFactory: () => new GrpcBackendTransport() },
    {
      provide: BackendDiscovery,
      inject: [GatewayConfig, EtcdConnection],
      useFactory: (config: GatewayConfig, etcd: EtcdConnection) =>
        config.mode === 'cluster' ? new EtcdBackendDiscovery(etcd, config.backend.etcdPrefix) : new NoBackendDiscovery(),
    },
    BackendDirectory,
    {
      provide: RemoteUplinkBackend,
      inject: [GatewayConfig, BackendDirectory, BackendTransport, GatewayMetrics],
      useFactory: (config: GatewayConfig, directory: BackendDirectory, transport: BackendTransport, metrics: GatewayMetrics) => {
        const { echo, static: fixed, etcdPrefix } = config.backend;
        const echoFallback = echo === 'on' || (echo === 'auto' && config.mode === 'embedded' && fixed.length === 0);
        const from = [...(config.mode === 'cluster' ? [`etcd ${etcdPrefix}`] : []), ...(fixed.length ? [`backend.static (${fixed.length})`] : [])];
        if (echoFallback && from.length === 0) log.info('uplink: no backend configured: the built-in echo backend answers every req');
        else
          log.info({ from, echoFallback }, `uplink: gRPC backends from ${from.join(' and ')}${echoFallback ? '; bizs without one get the echo backend' : ''}`);
        return new RemoteUplinkBackend(config, directory, transport, metrics, echoFallback);
      },
    },
    { provide: UplinkBackend, useExisting: RemoteUplinkBackend },
  ],
  exports: [UplinkBackend, RemoteUplinkBackend],
})
export class BackendModule {}
