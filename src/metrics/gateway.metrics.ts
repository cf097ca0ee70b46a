import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric the node exports, in one registry served by the governance app's /metrics.
 * Parts record at their edges (upgrader, link, push delivery, adapters); names pass
 * `promtool check metrics`.
 */
export class GatewayMetrics {
  readonly registry = new Registry();

  readonly onlineUsers = new Gauge({
    name: 'websocket_gateway_online_users',
    help: 'Distinct users with at least one link on this node',
    registers: [this.registry],
  });
  readonly connections = new Gauge({ name: 'websocket_gateway_connections', help: 'Open WebSocket links on this node', registers: [this.registry] });
  readonly upgrades = new Counter({
    name: 'websocket_gateway_upgrades_total',
    help: 'Upgrade attempts by result',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly linkMoves = new Counter({
    name: 'websocket_gateway_link_moves_total',
    help: 'Links moved to a peer (redirect, then close), by reason (alert, manual, rebalance, drain, shutdown)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly nodeShedding = new Gauge({
    name: 'websocket_gateway_node_shedding',
    help: '1 while this node refuses new links to shed load or drain, else 0',
    registers: [this.registry],
  });
  readonly closes = new Counter({
    name: 'websocket_gateway_link_closes_total',
    help: 'Links closed, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly framesIn = new Counter({
    name: 'websocket_gateway_frames_in_total',
    help: 'Frames received from clients, by type',
    labelNames: ['type'],
    registers: [this.registry],
  });
  readonly framesOut = new Counter({ name: 'websocket_gateway_frames_out_total', help: 'Frames written to clients', registers: [this.registry] });
  readonly bytesIn = new Counter({ name: 'websocket_gateway_bytes_in_total', help: 'Payload bytes received from clients', registers: [this.registry] });
  readonly bytesOut = new Counter({ name: 'websocket_gateway_bytes_out_total', help: 'Payload bytes written to clients', registers: [this.registry] });
  readonly badFrames = new Counter({
    name: 'websocket_gateway_bad_frames_total',
    help: 'Client frames refused, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly pushesDelivered = new Counter({ name: 'websocket_gateway_push_delivered_total', help: 'Push frames written to links', registers: [this.registry] });
  readonly pushesAccepted = new Counter({
    name: 'websocket_gateway_push_accepted_total',
    help: 'Push envelopes accepted, by source',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly pushesDropped = new Counter({
    name: 'websocket_gateway_push_dropped_total',
    help: 'Pushes not delivered to a link, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly pushLatency = new Histogram({
    name: 'websocket_gateway_push_latency_seconds',
    help: 'From push acceptance to the frame being queued on the link',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly uplinkLatency = new Histogram({
    name: 'websocket_gateway_uplink_latency_seconds',
    help: 'Client req to ack, by biz',
    labelNames: ['biz'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly uplinkRequests = new Counter({
    name: 'websocket_gateway_uplink_requests_total',
    help: 'Client requests answered, by biz and ack code (0 ok)',
    labelNames: ['biz', 'code'],
    registers: [this.registry],
  });
  readonly uplinkErrors = new Counter({
    name: 'websocket_gateway_uplink_errors_total',
    help: 'Client requests answered with a code other than 0, by biz and code',
    labelNames: ['biz', 'code'],
    registers: [this.registry],
  });
  readonly uplinkInFlight = new Gauge({
    name: 'websocket_gateway_uplink_in_flight',
    help: 'Client requests waiting for their backend, by biz',
    labelNames: ['biz'],
    registers: [this.registry],
  });
  readonly uplinkRetries = new Counter({
    name: 'websocket_gateway_uplink_retries_total',
    help: 'Requests sent again to another instance (the first could not have reached a backend, or the biz is idempotent), by biz',
    labelNames: ['biz'],
    registers: [this.registry],
  });
  readonly backendInstances = new Gauge({
    name: 'websocket_gateway_backend_instances',
    help: 'Backend instances known per biz (etcd and static)',
    labelNames: ['biz'],
    registers: [this.registry],
  });
  readonly backendCircuit = new Gauge({
    name: 'websocket_gateway_backend_circuit_state',
    help: 'Circuit breaker state per backend instance: 0 closed, 1 half-open, 2 open',
    labelNames: ['biz', 'instance'],
    registers: [this.registry],
  });
  readonly pushesStored = new Counter({ name: 'websocket_gateway_push_stored_total', help: 'Pushes appended to a user mailbox', registers: [this.registry] });
  readonly deadLetters = new Counter({
    name: 'websocket_gateway_push_dead_letters_total',
    help: 'Kafka records sent to the dead-letter topic, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly kafkaLag = new Gauge({
    name: 'websocket_gateway_kafka_lag',
    help: 'Records behind the end of each gateway.push partition at the last batch',
    labelNames: ['partition'],
    registers: [this.registry],
  });
  readonly kafkaAssigned = new Gauge({
    name: 'websocket_gateway_kafka_assigned_partitions',
    help: 'gateway.push partitions this node consumes (after the last rebalance)',
    registers: [this.registry],
  });
  readonly resumes = new Counter({
    name: 'websocket_gateway_resumes_total',
    help: 'Resume requests, by result',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly gapFills = new Counter({
    name: 'websocket_gateway_gap_fills_total',
    help: 'Links filled from the mailbox without a client resume, by cause (seq_gap, epoch_changed, bus_interrupted) and result',
    labelNames: ['cause', 'result'],
    registers: [this.registry],
  });
  readonly resyncs = new Counter({
    name: 'websocket_gateway_resyncs_total',
    help: 'resync frames sent (the mailbox could not fill a gap), by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly sessionsReconciled = new Counter({
    name: 'websocket_gateway_sessions_reconciled_total',
    help: 'Directory entries repaired against the links this node holds, by change (added: a live link was missing; removed: a closed link was listed)',
    labelNames: ['change'],
    registers: [this.registry],
  });
  readonly busInterruptions = new Counter({
    name: 'websocket_gateway_bus_interruptions_total',
    help: 'Times the node-to-node bus came back after losing its connection (messages meanwhile may be lost)',
    registers: [this.registry],
  });
  readonly eventsPublished = new Counter({
    name: 'websocket_gateway_events_published_total',
    help: 'Events written to gateway.events',
    registers: [this.registry],
  });
  readonly eventsDropped = new Counter({
    name: 'websocket_gateway_events_dropped_total',
    help: 'Events not written to gateway.events, by reason (too_large: over the size bound or refused by the broker; buffer_full; produce_failed)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly heartbeatTimeouts = new Counter({
    name: 'websocket_gateway_heartbeat_timeouts_total',
    help: 'Links terminated after missed pongs',
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'websocket_gateway_leader',
    help: '1 while this node is the cluster leader (it turns alerts and operator requests into directives), 0 otherwise',
    registers: [this.registry],
  });
  readonly alertsReceived = new Counter({
    name: 'websocket_gateway_alerts_received_total',
    help: 'Alerts received on POST /webhook/v1 for a known node, by status (firing, resolved) and source (alertmanager, grafana)',
    labelNames: ['status', 'source'],
    registers: [this.registry],
  });
  readonly alertsIgnored = new Counter({
    name: 'websocket_gateway_alerts_ignored_total',
    help: 'Alerts received on POST /webhook/v1 that named no known node, by reason (unknown_node, no_node_label)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly directives = new Counter({
    name: 'websocket_gateway_directives_total',
    help: 'Directives this node issued as the leader, by action (normal, shed, rebalance, drain) and reason',
    labelNames: ['action', 'reason'],
    registers: [this.registry],
  });
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });
  readonly eventLoopDelay = new Gauge({
    name: 'websocket_gateway_event_loop_delay_p99_seconds',
    help: 'p99 event-loop delay since the previous scrape',
    registers: [this.registry],
    // sampled at scrape time, then reset, so each scrape covers the interval since the last one
    collect: () => {
      this.eventLoopDelay.set(this.loop.percentile(99) / 1e9);
      this.loop.reset();
    },
  });
  readonly nativeBufferUtil = new Gauge({
    name: 'websocket_gateway_native_bufferutil',
    help: '1 if the bufferutil native addon is loaded for ws masking',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // gauges whose names end in _total, which `promtool check metrics` rejects for non-counters
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    this.loop.enable();
  }

  close(): void {
    this.loop.disable();
  }
}
