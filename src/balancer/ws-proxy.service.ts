import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import type { IncomingMessage, Server } from 'node:http';
import * as net from 'node:net';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import type { NodeInfo } from '../cluster/node-registry';
import { refuse, Refusal } from '../link/refuse';
import { ClientChecks } from '../upgrader/client-checks';
import { JwtVerifier } from '../upgrader/jwt.verifier';
import { BalancerMetrics } from './balancer.metrics';
import { NodePool } from './node-pool.service';

const log = logger('ws-proxy');

/** the largest HTTP answer head a node may send to an upgrade */
const MAX_HEAD_BYTES = 16 * 1024;

interface ProxiedLink {
  client: net.Socket;
  upstream: net.Socket;
}

/** What a node said to the upgrade we passed on. */
type NodeAnswer =
  | { kind: 'accepted'; upstream: net.Socket; head: Buffer }
  | { kind: 'refused'; upstream: net.Socket; status: number; head: Buffer }
  | { kind: 'unreachable'; error: string };

/**
 * The balancer's /ws: checks the upgrade as a node would (path, per-IP rate, origin, token),
 * picks a node by the strategy, passes the upgrade request to it over a fresh TCP connection and,
 * once the node answers 101, pipes the bytes both ways untouched (no re-framing, no per-frame
 * work). A node that cannot be reached, or refuses with 503 (shedding, draining, full), is
 * skipped and the next candidate tried, up to balancer.upgradeAttempts; any other refusal (401,
 * 400, 429) is the node's answer and goes to the client as it is. When either side of a proxied
 * link closes, the other is closed; a node that stops answering probes has its links closed, so
 * their clients reconnect (and resume) through the balancer to a live node.
 */
@Injectable()
export class WsProxy implements BeforeApplicationShutdown {
  private readonly links = new Map<string, Set<ProxiedLink>>();
  private readonly checks: ClientChecks;
  private accepting = true;

  constructor(
    private readonly config: GatewayConfig,
    private readonly pool: NodePool,
    verifier: JwtVerifier,
    private readonly metrics: BalancerMetrics,
  ) {
    this.checks = new ClientChecks(config, verifier);
    pool.onUnreachable((nodeId) => this.closeLinksOf(nodeId, 'node unreachable'));
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: net.Socket, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      this.handle(req, socket, head).catch((err: Error) => {
        log.error({ err: err.stack ?? err.message }, 'upgrade failed');
        this.refuse(socket, 'error', { status: 500, error: 'internal', message: 'internal error' });
      });
    });
  }

  /** links proxied to `nodeId` now */
  linksOf(nodeId: string): number {
    return this.links.get(nodeId)?.size ?? 0;
  }

  get total(): number {
    let n = 0;
    for (const set of this.links.values()) n += set.size;
    return n;
  }

  private refuse(socket: net.Socket, result: string, r: Refusal): void {
    this.metrics.upgrades.inc({ result });
    refuse(socket, r);
  }

  private async handle(req: IncomingMessage, socket: net.Socket, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://balancer');
    const path = this.config.gateway.path;
    if (url.pathname !== path) return this.refuse(socket, 'not_found', { status: 404, error: 'not_found', message: `WebSocket endpoint is ${path}` });
    if (!this.accepting)
      return this.refuse(socket, 'draining', { status: 503, error: 'draining', message: 'balancer is shutting down', headers: { 'Retry-After': '1' } });
    const client = await this.checks.check(req, url);
    if (!client.ok) return this.refuse(socket, client.result, client.refusal);
    const { ip, identity } = client;
    const tried = this.pool.candidates(identity.userId).slice(0, this.config.balancer.upgradeAttempts);
    let last: Extract<NodeAnswer, { kind: 'refused' }> | undefined;
    for (const node of tried) {
      if (socket.destroyed) return;
      // counted when chosen, not when accepted: concurrent upgrades must see each other's picks
      this.pool.routed(node.id);
      const answer = await this.pass(node, req, ip);
      if (answer.kind === 'accepted') return this.join(node, socket, head, answer.upstream, answer.head);
      this.pool.unrouted(node.id);
      if (answer.kind === 'unreachable') {
        this.metrics.upgradeRetries.inc({ reason: 'unreachable' });
        this.pool.reportUnreachable(node.id, answer.error);
        continue;
      }
      if (answer.status !== 503) return this.relay(socket, answer);
      // shedding, draining or full: the next node may take it; the last such answer is the client's if none does
      this.metrics.upgradeRetries.inc({ reason: 'refused' });
      last?.upstream.destroy();
      last = answer;
    }
    if (last) return this.relay(socket, last);
    this.refuse(socket, 'no_node', {
      status: 503,
      error: 'no_node',
      message: tried.length ? `no node took the link (${tried.map((n) => n.id).join(', ')} tried)` : 'no healthy gateway node',
      headers: { 'Retry-After': '1' },
    });
  }

  /** the client's upgrade request, as the node is to see it (its own Host, the client in X-Forwarded-For) */
  private requestHead(req: IncomingMessage, node: NodeInfo, ip: string): string {
    const target = new URL(node.wsUrl);
    const lines = [`GET ${req.url} HTTP/1.1`, `Host: ${target.host}`];
    let forwarded = '';
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i];
      const lower = name.toLowerCase();
      if (lower === 'host') continue;
      if (lower === 'x-forwarded-for') {
        forwarded = forwarded ? `${forwarded}, ${req.rawHeaders[i + 1]}` : req.rawHeaders[i + 1];
        continue;
      }
      lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
    }
    lines.push(`X-Forwarded-For: ${forwarded ? `${forwarded}, ${ip}` : ip}`);
    return `${lines.join('\r\n')}\r\n\r\n`;
  }

  /** passes the upgrade to `node` and reads its answer's head */
  private pass(node: NodeInfo, req: IncomingMessage, ip: string): Promise<NodeAnswer> {
    const target = new URL(node.wsUrl);
    const port = Number(target.port || (target.protocol === 'wss:' ? 443 : 80));
    return new Promise<NodeAnswer>((resolve) => {
      const upstream = net.connect({ host: target.hostname, port });
      let settled = false;
      let buf = Buffer.alloc(0);
      const done = (answer: NodeAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        upstream.off('data', onData);
        upstream.off('error', onError);
        upstream.off('close', onClose);
        if (answer.kind === 'unreachable') upstream.destroy();
        else upstream.pause();
        resolve(answer);
      };
      const timer = setTimeout(
        () => done({ kind: 'unreachable', error: `${node.wsUrl}: no answer to the upgrade within ${this.config.balancer.connectTimeoutMs} ms` }),
        this.config.balancer.connectTimeoutMs,
      );
      const onError = (err: Error & { code?: string }) => done({ kind: 'unreachable', error: `${node.wsUrl}: ${err.code ?? err.message}` });
      const onClose = () => done({ kind: 'unreachable', error: `${node.wsUrl}: closed before answering the upgrade` });
      const onData = (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > MAX_HEAD_BYTES) done({ kind: 'unreachable', error: `${node.wsUrl}: answer head over ${MAX_HEAD_BYTES} bytes` });
          return;
        }
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(buf.subarray(0, Math.min(end, 64)).toString('latin1'))?.[1]);
        if (!status) return done({ kind: 'unreachable', error: `${node.wsUrl}: not an HTTP answer` });
        done(status === 101 ? { kind: 'accepted', upstream, head: buf } : { kind: 'refused', upstream, status, head: buf });
      };
      upstream.on('data', onData);
      upstream.on('error', onError);
      upstream.on('close', onClose);
      upstream.once('connect', () => {
        upstream.setNoDelay(true);
        upstream.write(this.requestHead(req, node, ip));
      });
    });
  }

  /** the node's refusal, passed to the client as it is (status, headers, JSON body) */
  private relay(socket: net.Socket, answer: Extract<NodeAnswer, { kind: 'refused' }>): void {
    this.metrics.upgrades.inc({ result: `node_${answer.status}` });
    const { upstream } = answer;
    const end = () => {
      upstream.destroy();
      if (!socket.destroyed) socket.end();
    };
    upstream.on('error', end);
    upstream.on('end', end);
    upstream.on('close', end);
    socket.once('close', () => upstream.destroy());
    socket.write(answer.head);
    upstream.pipe(socket, { end: false });
    upstream.resume();
  }

  private join(node: NodeInfo, client: net.Socket, head: Buffer, upstream: net.Socket, answer: Buffer): void {
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    this.metrics.upgrades.inc({ result: 'proxied' });
    const link: ProxiedLink = { client, upstream };
    let set = this.links.get(node.id);
    if (!set) this.links.set(node.id, (set = new Set()));
    set.add(link);
    this.metrics.links.set({ node: node.id }, set.size);
    client.setNoDelay(true);
    client.setTimeout(0);
    client.setKeepAlive(true, 30000);
    upstream.setKeepAlive(true, 30000);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      client.destroy();
      upstream.destroy();
      set.delete(link);
      this.metrics.links.set({ node: node.id }, set.size);
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
    // the node's 101 (and any frame it sent right after), then the client's first bytes, then both ways
    client.write(answer);
    if (head.length) upstream.write(head);
    client.pipe(upstream);
    upstream.pipe(client);
    upstream.resume();
  }

  /** closes every link proxied to `nodeId` (its clients reconnect through the balancer) */
  closeLinksOf(nodeId: string, why: string): number {
    const set = this.links.get(nodeId);
    if (!set?.size) return 0;
    const n = set.size;
    log.warn({ node: nodeId, links: n, why }, 'closing the links proxied to the node');
    for (const link of [...set]) {
      link.client.destroy();
      link.upstream.destroy();
    }
    return n;
  }

  /** refuses new upgrades; then every proxied link is closed (its client reconnects, to another balancer) */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * before the HTTP server closes: its close waits for every socket it accepted, upgraded ones
   * included, so the proxied links must be gone first
   */
  beforeApplicationShutdown(): void {
    this.accepting = false;
    for (const id of [...this.links.keys()]) this.closeLinksOf(id, 'balancer shutting down');
  }
}
