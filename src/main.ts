import 'reflect-metadata';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Server } from 'node:http';
import { ClusterService } from './cluster/cluster.service';
import { NodeRegistry } from './cluster/node-registry';
import { NodeState } from './cluster/node-state';
import { logger, PinoNestLogger, setLogLevel } from './common/logger';
import { nativeBufferUtilLoaded } from './common/native';
import { ConfigError, loadConfig } from './config/config.loader';
import { GatewayConfig } from './config/gateway.config';
import { GatewayModule } from './gateway.module';
import { GovernanceModule } from './governance/governance.module';
import { CloseCode } from './link/close-codes';
import { LinkManager } from './link/link.manager';
import { GatewayMetrics } from './metrics/gateway.metrics';
import { PushConsumer } from './push/push-consumer.service';
import { UpgraderService } from './upgrader/upgrader.service';

const log = logger('main');

/** the largest request body the governance app reads (an /api/push batch of envelopes) */
const GOVERNANCE_BODY_LIMIT = 1024 * 1024;

export interface RunningNode {
  config: GatewayConfig;
  gateway: INestApplication;
  governance: INestApplication;
  /** drains and stops both apps; resolves when everything is closed */
  shutdown(reason: string): Promise<void>;
}

/** Boots the gateway app and the governance app, joins the cluster, starts accepting. */
export async function startNode(env: NodeJS.ProcessEnv = process.env): Promise<RunningNode> {
  const loaded = loadConfig({ env });
  const config = GatewayConfig.from(loaded.config);
  setLogLevel(config.log.level);
  for (const note of loaded.notes) log.warn(note);

  const metrics = new GatewayMetrics();
  const native = nativeBufferUtilLoaded();
  metrics.nativeBufferUtil.set(native ? 1 : 0);
  if (!native) log.warn('bufferutil native addon not loaded: ws masks frames in JS (slower)');

  const nestLogger = new PinoNestLogger();
  // Fastify under both apps, not Express: Express re-prototypes every request and response
  // (Object.setPrototypeOf), which allocates ~30 KB per request, most of it surviving young-
  // generation GCs; at a few thousand /api/push calls a second that fed a major GC every 2-3 s
  const gateway = await NestFactory.create<NestFastifyApplication>(GatewayModule.forRoot(config, metrics), new FastifyAdapter(), { logger: nestLogger });
  gateway.get(UpgraderService).attach(gateway.getHttpServer() as Server);
  const governance = await NestFactory.create<NestFastifyApplication>(
    GovernanceModule.forGateway(gateway),
    new FastifyAdapter({ bodyLimit: GOVERNANCE_BODY_LIMIT }),
    { logger: nestLogger },
  );

  await gateway.listen(config.gateway.port, config.gateway.host);
  await governance.listen(config.governance.port, config.governance.host);
  const state = gateway.get(NodeState);
  const cluster = gateway.get(ClusterService);
  await cluster.join();
  const consumer = gateway.get(PushConsumer);
  await consumer.start();
  state.set('running');
  await cluster.refresh();
  log.info(
    {
      node: config.node.id,
      mode: config.mode,
      ws: config.gateway.publicUrl,
      governance: `http://${config.governance.host}:${config.governance.port}`,
      config: loaded.file ?? '(defaults)',
    },
    'gateway node ready',
  );

  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string) =>
    (stopping ??= (async () => {
      log.info({ reason }, 'draining');
      state.set('draining');
      // stop taking records first: what this node has not committed goes to the others
      await consumer.stop();
      await cluster.leave();
      const peer = await pickPeer(gateway, config).catch(() => undefined);
      await gateway.get(LinkManager).closeAll(CloseCode.GOING_AWAY, 'node shutting down', config.shutdown.drainTimeoutMs, peer);
      state.set('stopped');
      (gateway.getHttpServer() as Server).closeAllConnections?.();
      (governance.getHttpServer() as Server).closeAllConnections?.();
      await governance.close();
      await gateway.close();
      metrics.close();
      log.info('stopped');
    })());
  return { config, gateway, governance, shutdown };
}

/** A running peer to send clients to while this node drains. */
async function pickPeer(gateway: INestApplication, config: GatewayConfig): Promise<string | undefined> {
  const peers = (await gateway.get(NodeRegistry).list()).filter((n) => n.id !== config.node.id && n.state === 'running' && n.online < n.capacity);
  peers.sort((a, b) => a.online / a.capacity - b.online / b.capacity);
  return peers[0]?.wsUrl;
}

async function main(): Promise<void> {
  // handlers first: a signal during startup drains as soon as the node is up, never kills it
  let signalled: string | undefined;
  let node: RunningNode | undefined;
  const stop = (signal: string) => {
    if (!node) {
      signalled ??= signal;
      return;
    }
    node.shutdown(signal).then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err: err.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  try {
    node = await startNode();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    log.fatal({ err: (err as Error).message, stack: (err as Error).stack }, 'startup failed');
    process.exit(1);
  }
  if (signalled) stop(signalled);
}

process.on('unhandledRejection', (err) => log.error({ err: (err as Error)?.message ?? String(err) }, 'unhandled rejection'));

if (require.main === module) void main();
