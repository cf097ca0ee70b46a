import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Server } from 'node:http';
import { AppModule } from './app.module';
import { logger, PinoNestLogger, setLogLevel, writeStderr } from './common/logger';
import { nativeBufferUtilLoaded } from './common/native';
import { ConfigError } from './config/config.loader';
import { bootConfig } from './config/config.module';
import { GatewayConfig } from './config/gateway.config';
import { LiveOverview } from './governance/admin/live-overview.service';
import { drainBeforeEarlyReplies, useGovernanceBodies } from './governance/governance-http';
import { LifecycleService } from './lifecycle/lifecycle.service';
import { GatewayWsAdapter } from './link/gateway-ws.adapter';
import { GatewayMetrics } from './metrics/gateway.metrics';
import { startBalancer } from './balancer/balancer.main';

const log = logger('main');

/** the largest request body the governance app reads (an /api/push batch of envelopes) */
const GOVERNANCE_BODY_LIMIT = 1024 * 1024;

export interface RunningNode {
  config: GatewayConfig;
  app: NestFastifyApplication;
  /** drains, then stops the app; resolves when everything is closed */
  shutdown(reason: string): Promise<void>;
}

/**
 * Boots the node: one Nest application whose HTTP server (Fastify) is the governance app, and
 * whose WebSocket gateway listens on the gateway port through GatewayWsAdapter.
 */
export async function startNode(): Promise<RunningNode> {
  const { config, notes, file } = bootConfig();
  setLogLevel(config.log.level);
  for (const note of notes) log.warn(note);

  // Fastify, not Express: Express re-prototypes every request and response
  // (Object.setPrototypeOf), which allocates ~30 KB per request, most of it surviving young-
  // generation GCs; at a few thousand /api/push calls a second that fed a major GC every 2-3 s
  const adapter = new FastifyAdapter({ bodyLimit: GOVERNANCE_BODY_LIMIT });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, adapter, {
    logger: new PinoNestLogger(),
    abortOnError: false,
  });
  useGovernanceBodies(app, adapter, GOVERNANCE_BODY_LIMIT);
  drainBeforeEarlyReplies(adapter);
  app.useWebSocketAdapter(new GatewayWsAdapter(app));
  const native = nativeBufferUtilLoaded();
  app.get(GatewayMetrics).nativeBufferUtil.set(native ? 1 : 0);
  if (!native) log.warn('bufferutil native addon not loaded: ws masks frames in JS (slower)');

  await app.listen(config.governance.port, config.governance.host);
  const lifecycle = app.get(LifecycleService);
  await lifecycle.start();
  log.info(
    {
      node: config.node.id,
      mode: config.mode,
      ws: config.gateway.publicUrl,
      governance: `http://${config.governance.host}:${config.governance.port}`,
      config: file ?? '(defaults)',
    },
    'gateway node ready',
  );

  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string) =>
    (stopping ??= (async () => {
      await lifecycle.drain(reason);
      // the admin UI's live streams end with their last chunk (the page sees a clean end) before the sockets close
      app.get(LiveOverview).endAll();
      (app.getHttpServer() as Server).closeAllConnections?.();
      await app.close();
      log.info('stopped');
    })());
  return { config, app, shutdown };
}

/**
 * The hard deadline of a shutdown: if the process is still there `ms` after the signal (a
 * dependency that never answers, a close that never completes), the reason goes to stderr and
 * the process exits with code 1. The timer is not unref'd: a shutdown stuck on a promise that
 * nothing will settle must still end with the reason, not with a silent exit 0.
 */
export function shutdownDeadline(ms: number, signal: string, exit: (code: number) => void = (code) => process.exit(code)): NodeJS.Timeout {
  return setTimeout(() => {
    const reason = `shutdown on ${signal} did not finish within ${ms} ms (shutdown.drainTimeoutMs + shutdown.graceMs): exiting with code 1`;
    log.error(reason);
    writeStderr(`${reason}\n`);
    exit(1);
  }, ms);
}

async function main(): Promise<void> {
  // handlers first: a signal during startup drains as soon as the node is up, never kills it
  let signalled: string | undefined;
  let node: RunningNode | undefined;
  let deadline: NodeJS.Timeout | undefined;
  const stop = (signal: string) => {
    // handlers run from the event loop, so bootConfig() below has returned (or exited with 2) by now
    const { shutdown } = bootConfig().config;
    deadline ??= shutdownDeadline(shutdown.drainTimeoutMs + shutdown.graceMs, signal);
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
    const { config } = bootConfig();
    if (config.role === 'balancer') {
      setLogLevel(config.log.level);
      node = { config, ...(await startBalancer(config)) };
    } else node = await startNode();
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
