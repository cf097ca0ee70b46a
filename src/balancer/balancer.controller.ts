import { All, Controller, Get, Header, Req, Res, ServiceUnavailableException, UnauthorizedException, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayConfig } from '../config/gateway.config';
import { AdminTokenGuard } from '../governance/admin/admin-token.guard';
import { JwtVerifier, TokenError } from '../upgrader/jwt.verifier';
import { extractToken } from '../upgrader/token';
import { BalancerMetrics } from './balancer.metrics';
import { NoNodeError, NodeApi } from './node-api.service';
import { NodePool } from './node-pool.service';
import { BalancerOverview } from './overview.service';
import { LiveOverview } from '../governance/admin/live-overview.service';
import { UiAssets } from '../governance/ui/ui-assets';

/**
 * The balancer's HTTP routes on its one port (the WebSocket upgrades on the same port are
 * WsProxy's): health, metrics, the dispatch endpoint (the client's JWT as bearer), the nodes as
 * this balancer sees them, the UI's overview, and the rest of the admin API passed on to a node.
 */
@Controller()
export class BalancerController {
  constructor(
    private readonly config: GatewayConfig,
    private readonly pool: NodePool,
    private readonly verifier: JwtVerifier,
    private readonly api: NodeApi,
    private readonly metrics: BalancerMetrics,
    private readonly overview: BalancerOverview,
    private readonly liveStream: LiveOverview,
  ) {}

  private readonly assets = new UiAssets({ mount: '/' });

  private healthReport() {
    const nodes = this.pool.all();
    const healthy = nodes.filter((n) => n.healthy && n.info.state === 'running').length;
    return {
      status: healthy > 0 ? 'ok' : 'error',
      role: 'balancer',
      id: this.config.node.id,
      strategy: this.pool.strategyName,
      nodes: { registered: nodes.length, healthy },
    };
  }

  /** ok while at least one node takes links; 503 otherwise (a load balancer in front of balancers skips this one) */
  @Get('health')
  health() {
    const report = this.healthReport();
    if (report.status !== 'ok') throw new ServiceUnavailableException({ ...report, message: 'no gateway node takes links' });
    return report;
  }

  @Get('health/ready')
  ready() {
    return this.health();
  }

  @Get('health/live')
  live() {
    return { status: 'ok', role: 'balancer', id: this.config.node.id, state: 'running' };
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }

  /**
   * The scalable path: the client asks where to connect and connects to the node itself (the
   * balancer carries none of its traffic). Bearer = the client's JWT (or ?token=); the node is
   * chosen as for /ws, by the strategy over the healthy running nodes.
   */
  @Get('api/dispatch')
  dispatch(@Req() req: FastifyRequest) {
    // the upgrade's own rule (Authorization: Bearer, then ?token=); no subprotocols on a plain GET
    const token = extractToken(req.raw, new URL(req.url, 'http://balancer'), new Set());
    if (!token) {
      this.metrics.dispatches.inc({ result: 'unauthorized' });
      throw new UnauthorizedException({ error: 'unauthorized', message: "dispatch needs the client's token: Authorization: Bearer <jwt>" });
    }
    let userId: string;
    try {
      userId = this.verifier.verify(token).userId;
    } catch (err) {
      this.metrics.dispatches.inc({ result: 'unauthorized' });
      throw new UnauthorizedException({ error: 'unauthorized', message: err instanceof TokenError ? err.message : 'token rejected' });
    }
    const node = this.pool.candidates(userId)[0];
    if (!node) {
      this.metrics.dispatches.inc({ result: 'no_node' });
      throw new ServiceUnavailableException({ error: 'no_node', message: 'no healthy gateway node' });
    }
    this.pool.routed(node.id);
    this.metrics.dispatches.inc({ result: 'ok' });
    return { url: node.wsUrl, node: node.id };
  }

  /** the gateway nodes with their health as this balancer checks it */
  @Get('api/backends')
  @UseGuards(AdminTokenGuard)
  backends() {
    return { strategy: this.pool.strategyName, checkIntervalMs: this.config.balancer.checkIntervalMs, items: this.overview.nodes() };
  }

  @Get('api/overview')
  @UseGuards(AdminTokenGuard)
  snapshot() {
    return this.overview.snapshot();
  }

  /** the overview as Server-Sent Events: event `overview` at once and every governance.liveIntervalMs */
  @Get('api/live')
  @UseGuards(AdminTokenGuard)
  stream(@Res() reply: FastifyReply): void {
    reply.hijack();
    this.liveStream.attach(reply.raw);
  }

  // the admin UI at / (no auth: the page asks for the admin token); HEAD answers with the GET route
  @Get()
  page(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.ui(req, reply);
  }

  /** the bundle's files (content-hashed names at the mount's root); static routes (health, metrics) win over this one */
  @Get(':file')
  asset(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.ui(req, reply);
  }

  private ui(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    reply.hijack();
    return this.assets.serveRequest(req.raw, reply.raw);
  }

  /** every other admin route (clients, query, kick, push, rooms, nodes and their drain/shed/undrain) is a node's */
  @All('api/*')
  @UseGuards(AdminTokenGuard)
  async forward(@Req() req: FastifyRequest, @Res() reply: FastifyReply) {
    try {
      const res = await this.api.call(req.method, req.url, req.headers.authorization, req.body ?? undefined);
      reply.status(res.status).header('x-gateway-node', res.node).send(res.body);
    } catch (err) {
      if (err instanceof NoNodeError) throw new ServiceUnavailableException({ error: 'no_node', message: err.message });
      throw err;
    }
  }
}
