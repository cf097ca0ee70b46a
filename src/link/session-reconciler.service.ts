import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { SessionStore } from '../session/session.store';
import { LinkManager } from './link.manager';

const log = logger('sessions');

/**
 * Keeps the session directory true to the links this node holds: every
 * session.reconcileIntervalMs and as soon as the store's connection is back after a loss. So a
 * link that closed while Redis was away leaves the directory, and the live links come back to a
 * Redis that restarted empty, within one interval (at once after a reconnect).
 */
@Injectable()
export class SessionReconciler implements OnModuleInit, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly config: GatewayConfig,
    private readonly sessions: SessionStore,
    private readonly links: LinkManager,
    private readonly metrics: GatewayMetrics,
  ) {}

  onModuleInit(): void {
    if (this.config.mode !== 'cluster') return;
    this.sessions.onReconnected(() => void this.reconcile('reconnect'));
    this.timer = setInterval(() => void this.reconcile('interval'), this.config.session.reconcileIntervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** One pass (one at a time); never throws: a failure is logged and the next pass tries again. */
  reconcile(why: string): Promise<void> {
    this.running ??= (async () => {
      try {
        const live = [...this.links.registry.all()].map((l) => l.session);
        const { added, removed } = await this.sessions.reconcile(this.config.node.id, live, this.links.admitting);
        if (added) this.metrics.sessionsReconciled.inc({ change: 'added' }, added);
        if (removed) this.metrics.sessionsReconciled.inc({ change: 'removed' }, removed);
        if (added || removed) log.warn({ why, added, removed }, 'session directory repaired');
      } catch (err) {
        log.debug({ why, err: (err as Error).message }, 'session reconcile failed; next pass tries again');
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }
}
