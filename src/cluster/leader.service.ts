import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { LeaderElection } from './leader-election';

const log = logger('leader');

/** how long resigning may take before shutdown goes on (the lease then expires by itself) */
const RESIGN_TIMEOUT_MS = 2000;

export type LeadershipListener = (leading: boolean) => void;

/**
 * This node's place in the leader election: whether it leads (`websocket_gateway_leader`) and
 * who does, as /api/nodes shows. Campaigning starts once the node joined the cluster and never
 * holds up boot or shutdown; a drain resigns first, so a successor leads at once.
 */
@Injectable()
export class LeaderService implements OnApplicationShutdown {
  private leading_ = false;
  private leaderId_?: string;
  private started = false;
  private stopped = false;
  private readonly listeners = new Set<LeadershipListener>();

  constructor(
    private readonly config: GatewayConfig,
    private readonly election: LeaderElection,
    private readonly metrics: GatewayMetrics,
  ) {
    this.metrics.leader.set(0);
  }

  get leading(): boolean {
    return this.leading_;
  }

  /** the leader's node id as this node last saw it (undefined: none right now, or not yet known) */
  get leaderId(): string | undefined {
    return this.leading_ ? this.config.node.id : this.leaderId_;
  }

  /** called with true when this node starts leading and false when it stops */
  onChange(listener: LeadershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const id = this.config.node.id!;
    this.election.start(id, {
      elected: () => {
        if (this.stopped) return;
        log.info({ node: id }, 'this node leads');
        this.set(true);
      },
      lost: (err) => {
        log.warn({ err: err.message }, 'this node lost the leadership');
        this.set(false);
      },
      leader: (leader) => {
        this.leaderId_ = leader;
      },
    });
  }

  private set(leading: boolean): void {
    if (this.leading_ === leading) return;
    this.leading_ = leading;
    this.metrics.leader.set(leading ? 1 : 0);
    for (const l of this.listeners) {
      try {
        l(leading);
      } catch (err) {
        log.error({ err: (err as Error).message }, 'leadership listener failed');
      }
    }
  }

  /** Stops leading and campaigning (idempotent); returns within a bounded time whatever etcd does. */
  async resign(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const was = this.leading_;
    this.set(false);
    this.leaderId_ = undefined;
    if (this.started) await this.election.resign(RESIGN_TIMEOUT_MS);
    if (was) log.info('resigned the leadership');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.resign();
  }
}
