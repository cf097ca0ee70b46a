import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** The balancer's own registry, served at its /metrics (a balancer holds no node metrics). */
export class BalancerMetrics {
  readonly registry = new Registry();

  readonly links = new Gauge({
    name: 'websocket_balancer_links',
    help: 'WebSocket links this balancer is proxying, by node',
    labelNames: ['node'],
    registers: [this.registry],
  });
  readonly upgrades = new Counter({
    name: 'websocket_balancer_upgrades_total',
    help: 'Upgrades through this balancer by result (proxied, or why not)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly upgradeRetries = new Counter({
    name: 'websocket_balancer_upgrade_retries_total',
    help: 'Upgrades tried again on another node, by why the first node did not take it (unreachable, refused)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly nodeHealthy = new Gauge({
    name: 'websocket_balancer_node_healthy',
    help: '1 while the node passes its probes and takes links through this balancer, else 0',
    labelNames: ['node'],
    registers: [this.registry],
  });
  readonly dispatches = new Counter({
    name: 'websocket_balancer_dispatches_total',
    help: 'GET /api/dispatch answers by result',
    labelNames: ['result'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
