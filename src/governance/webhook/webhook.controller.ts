import { Controller, HttpCode, HttpException, OnModuleInit, Post, Req, ServiceUnavailableException, UnauthorizedException } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { alertKey } from '../../cluster/alert-key';
import { AlertRecord } from '../../cluster/control';
import { ControlStore } from '../../cluster/control-store';
import { hostPortOf, NodeInfo, NodeRegistry } from '../../cluster/node-registry';
import { logger } from '../../common/logger';
import { withTimeout } from '../../common/timeout';
import { GatewayConfig } from '../../config/gateway.config';
import { GatewayMetrics } from '../../metrics/gateway.metrics';
import { badRequest } from '../bad-request';
import { checkWebhookAuth, configuredMethods } from './webhook-auth';
import { parseWebhook, thresholdOf, valueOf, WebhookAlert } from './webhook.payload';

const log = logger('webhook');

/** which registered node an alert is about: labels.node (a node id), else labels.instance (a node's admin or ws host:port) */
function nodeOf(a: WebhookAlert, nodes: NodeInfo[]): { node?: NodeInfo; reason?: 'unknown_node' | 'no_node_label' } {
  const { node: id, instance } = a.labels;
  if (id !== undefined) {
    const node = nodes.find((n) => n.id === id);
    return node ? { node } : { reason: 'unknown_node' };
  }
  if (instance !== undefined) {
    const want = instance.trim().toLowerCase();
    const is = (url: string) => {
      try {
        return hostPortOf(url) === want;
      } catch {
        return false; // a registration whose URL does not parse names no instance
      }
    };
    const node = nodes.find((n) => is(n.adminUrl) || is(n.wsUrl));
    return node ? { node } : { reason: 'unknown_node' };
  }
  return { reason: 'no_node_label' };
}

/** a fingerprint for an alert that came without one: the hash of its sorted labels (Alertmanager's idea of identity) */
function fingerprintOf(a: WebhookAlert): string {
  if (a.fingerprint) return a.fingerprint;
  const sorted = Object.keys(a.labels)
    .sort()
    .map((k) => [k, a.labels[k]]);
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
}

/**
 * POST /webhook/v1: Alertmanager's and Grafana's alert notifications. Each alert about a known
 * node is recorded once in the ControlStore (a repeat changes nothing) for the leader to act on;
 * an alert about no known node is counted and listed as ignored, with 200 all the same
 * (Alertmanager retries what fails, and a retry cannot make an unknown node known).
 */
@Controller('webhook')
export class WebhookController implements OnModuleInit {
  constructor(
    private readonly config: GatewayConfig,
    private readonly store: ControlStore,
    private readonly nodes: NodeRegistry,
    private readonly metrics: GatewayMetrics,
  ) {}

  onModuleInit(): void {
    const methods = configuredMethods(this.config.webhook);
    if (methods.length) log.info({ methods }, 'alert webhook accepts POST /webhook/v1');
    else if (this.config.mode === 'cluster')
      log.warn(
        'alert webhook refuses every call (401): no credentials configured; set webhook.token (GATEWAY_WEBHOOK_TOKEN), webhook.basicUser/basicPassword or webhook.hmacSecret',
      );
    else log.info('alert webhook refuses every call (401) until webhook.token, webhook.basicUser/basicPassword or webhook.hmacSecret is set');
  }

  @Post('v1')
  @HttpCode(200)
  async receive(@Req() req: { headers: IncomingHttpHeaders; body?: unknown; rawBody?: Buffer }) {
    const raw = req.rawBody ?? Buffer.alloc(0);
    const auth = checkWebhookAuth(this.config.webhook, req.headers, raw, Date.now());
    if (!auth.ok) throw new UnauthorizedException({ error: 'unauthorized', message: auth.reason });
    if (raw.length > this.config.webhook.maxBodyBytes)
      throw new HttpException(
        { error: 'payload_too_large', message: `the body is ${raw.length} bytes, over webhook.maxBodyBytes (${this.config.webhook.maxBodyBytes})` },
        413,
      );
    const parsed = parseWebhook(req.body);
    if (!parsed.ok) throw badRequest(parsed.problems);
    const { source, alerts } = parsed.payload;
    let nodes: NodeInfo[];
    try {
      nodes = await withTimeout(this.nodes.list(), this.config.governance.healthTimeoutMs);
    } catch (err) {
      throw new ServiceUnavailableException({ error: 'unavailable', message: `cannot resolve nodes: the registry is unavailable: ${(err as Error).message}` });
    }
    const now = Date.now();
    const recorded: { index: number; node: string; alertname: string; status: string; key: string; result: 'recorded' | 'repeat' }[] = [];
    const ignored: { index: number; alertname: string; reason: string; node?: string; instance?: string }[] = [];
    for (const [index, a] of alerts.entries()) {
      const alertname = a.labels.alertname ?? '';
      const { node, reason } = nodeOf(a, nodes);
      if (!node) {
        this.metrics.alertsIgnored.inc({ reason: reason! });
        ignored.push({ index, alertname, reason: reason!, node: a.labels.node, instance: a.labels.instance });
        continue;
      }
      this.metrics.alertsReceived.inc({ status: a.status, source });
      const record: AlertRecord = {
        nodeId: node.id,
        key: alertKey(fingerprintOf(a), a.startsAt, a.status),
        alertname,
        status: a.status,
        source,
        value: valueOf(a),
        threshold: thresholdOf(a),
        instance: a.labels.instance,
        startsAt: a.startsAt,
        receivedAt: now,
        receivedBy: this.config.node.id!,
      };
      let result: 'recorded' | 'repeat';
      try {
        result = await withTimeout(this.store.recordAlert(record), this.config.governance.healthTimeoutMs * 2);
      } catch (err) {
        // Alertmanager sends it again; what was recorded before this one stays recorded (a repeat then)
        throw new ServiceUnavailableException({ error: 'unavailable', message: `cannot record the alert: ${(err as Error).message}; send it again` });
      }
      recorded.push({ index, node: node.id, alertname, status: a.status, key: record.key, result });
      if (result === 'recorded') log.info({ node: node.id, alertname, status: a.status, source, key: record.key }, 'alert recorded');
    }
    if (ignored.length) log.warn({ ignored }, 'alerts about no known node ignored');
    return { source, received: alerts.length, recorded, ignored };
  }
}
