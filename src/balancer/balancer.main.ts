import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Server } from 'node:http';
import { logger, PinoNestLogger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { ApiErrorFilter } from '../governance/api-error.filter';
import { drainBeforeEarlyReplies, useGovernanceBodies } from '../governance/governance-http';
import { BalancerModule } from './balancer.module';
import { WsProxy } from './ws-proxy.service';

const log = logger('balancer');

/** the largest admin request body passed on to a node (an /api/push batch) */
const BODY_LIMIT = 1024 * 1024;

export interface RunningBalancer {
  app: NestFastifyApplication;
  shutdown(reason: string): Promise<void>;
}

/** Boots the balancer role: one Fastify app on balancer.port for HTTP, with the /ws upgrades handed to WsProxy. */
export async function startBalancer(config: GatewayConfig): Promise<RunningBalancer> {
  const adapter = new FastifyAdapter({ bodyLimit: BODY_LIMIT });
  const app = await NestFactory.create<NestFastifyApplication>(BalancerModule, adapter, { logger: new PinoNestLogger(), abortOnError: false });
  useGovernanceBodies(app, adapter, BODY_LIMIT);
  drainBeforeEarlyReplies(adapter);
  app.useGlobalFilters(new ApiErrorFilter());
  const proxy = app.get(WsProxy);
  proxy.attach(app.getHttpServer() as Server);
  await app.listen(config.balancer.port, config.balancer.host);
  log.info(
    {
      id: config.node.id,
      url: `http://${config.balancer.host}:${config.balancer.port}`,
      strategy: config.balancer.strategy,
      etcd: config.etcd.endpoints.join(','),
    },
    'balancer ready',
  );
  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string) =>
    (stopping ??= (async () => {
      log.info({ reason, links: proxy.total }, 'balancer stopping: refusing upgrades, closing proxied links');
      proxy.stopAccepting();
      (app.getHttpServer() as Server).closeAllConnections?.();
      await app.close();
      log.info('stopped');
    })());
  return { app, shutdown };
}
