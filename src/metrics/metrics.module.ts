import { Module, OnApplicationShutdown } from '@nestjs/common';
import { GatewayMetrics } from './gateway.metrics';

/** The node's prom-client registry; the parts record at their edges, the governance app serves it. */
@Module({ providers: [GatewayMetrics], exports: [GatewayMetrics] })
export class MetricsModule implements OnApplicationShutdown {
  constructor(private readonly metrics: GatewayMetrics) {}
  onApplicationShutdown(): void {
    this.metrics.close();
  }
}
