import { Controller, Get, Header } from '@nestjs/common';
import { GatewayMetrics } from '../../metrics/gateway.metrics';

@Controller()
export class MetricsController {
  constructor(private readonly metrics: GatewayMetrics) {}

  /** Prometheus text exposition of the node's registry. */
  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
