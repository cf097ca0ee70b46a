import { Body, Controller, HttpCode, NotFoundException, Param, Post, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ControlRequest } from '../../cluster/control';
import { ControlStore } from '../../cluster/control-store';
import { NodeRegistry } from '../../cluster/node-registry';
import { withTimeout } from '../../common/timeout';
import { GatewayConfig } from '../../config/gateway.config';
import { badRequest, zodProblems } from '../bad-request';
import { AdminTokenGuard } from './admin-token.guard';

const noBody = z.strictObject({});
const shedBody = z.strictObject({ targetLinks: z.number().int().min(0) });

/**
 * The operator's moves: drain, shed and undrain a node. Any node takes them: each is recorded
 * as a ControlRequest (202 with its id) and the leader turns it into the node's directive.
 */
@Controller('api/nodes')
@UseGuards(AdminTokenGuard)
export class ControlController {
  constructor(
    private readonly store: ControlStore,
    private readonly nodes: NodeRegistry,
    private readonly config: GatewayConfig,
  ) {}

  /** every link moves off the node, and it takes none, until undrain */
  @Post(':id/drain')
  @HttpCode(202)
  drain(@Param('id') id: string, @Body() body: unknown) {
    return this.request(id, 'drain', noBody, body);
  }

  /** links move off until at most `targetLinks` remain, and the node takes none meanwhile, until undrain */
  @Post(':id/shed')
  @HttpCode(202)
  shed(@Param('id') id: string, @Body() body: unknown) {
    return this.request(id, 'shed', shedBody, body);
  }

  /** the node takes links again */
  @Post(':id/undrain')
  @HttpCode(202)
  undrain(@Param('id') id: string, @Body() body: unknown) {
    return this.request(id, 'undrain', noBody, body);
  }

  private async request(nodeId: string, kind: ControlRequest['kind'], schema: z.ZodType<{ targetLinks?: number }>, body: unknown) {
    const parsed = schema.safeParse(body ?? {});
    if (!parsed.success) throw badRequest(zodProblems(parsed.error));
    const timeout = this.config.governance.healthTimeoutMs;
    let known: boolean;
    try {
      known = (await withTimeout(this.nodes.list(), timeout)).some((n) => n.id === nodeId);
    } catch (err) {
      throw new ServiceUnavailableException({ error: 'unavailable', message: `cannot list nodes: ${(err as Error).message}` });
    }
    if (!known) throw new NotFoundException({ error: 'not_found', message: `no node ${nodeId}` });
    const request: ControlRequest = { id: randomUUID(), nodeId, kind, at: Date.now(), receivedBy: this.config.node.id! };
    if (parsed.data.targetLinks !== undefined) request.targetLinks = parsed.data.targetLinks;
    try {
      await withTimeout(this.store.recordRequest(request), timeout);
    } catch (err) {
      throw new ServiceUnavailableException({ error: 'unavailable', message: `cannot record the request: ${(err as Error).message}` });
    }
    return { request: request.id, node: nodeId, kind, ...(request.targetLinks !== undefined ? { targetLinks: request.targetLinks } : {}) };
  }
}
