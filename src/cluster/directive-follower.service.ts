import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { CloseCode } from '../link/close-codes';
import { ClusterService } from './cluster.service';
import type { Directive } from './control';
import { DirectiveSource } from './directive-source';
import { LinkMover } from './link-mover.service';
import { LoadMode, NodeState } from './node-state';

const log = logger('directives');

/** how long after a failed first read of the directive the node tries again */
const RETRY_MS = 2000;

/**
 * The node's side of the operator loop: follows this node's directive (DirectiveSource) and acts
 * once per directive id. `normal`: accept, move nothing. `shed`: refuse new upgrades (503 with a
 * peer) and move links down to `targetLinks`. `rebalance`: keep accepting, move links down to
 * `targetLinks` toward the named nodes. `drain`: refuse, move every link. The load mode is
 * published in the etcd registration at once. A directive without `targetLinks` moves nothing
 * (shed: refuse only). Stopped when the node itself drains (SIGTERM), which then owns the moves.
 */
@Injectable()
export class DirectiveFollower implements OnApplicationShutdown {
  private lastId?: string;
  private stopped = false;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly config: GatewayConfig,
    private readonly source: DirectiveSource,
    private readonly state: NodeState,
    private readonly cluster: ClusterService,
    private readonly mover: LinkMover,
  ) {}

  /** Starts following (after the node joined the cluster); never throws: a failed read is retried. */
  async start(): Promise<void> {
    try {
      await this.source.watch((d) => this.follow(d));
    } catch (err) {
      if (this.stopped) return;
      log.warn({ err: (err as Error).message }, `directive not readable; trying again in ${RETRY_MS} ms`);
      this.retry = setTimeout(() => void this.start(), RETRY_MS);
      this.retry.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.source.stop().catch(() => undefined);
  }

  onApplicationShutdown(): Promise<void> {
    return this.stop();
  }

  private follow(d: Directive): void {
    if (this.stopped || d.id === this.lastId) return;
    this.lastId = d.id;
    log.info({ id: d.id, action: d.action, reason: d.reason, targetLinks: d.targetLinks, toward: d.toward, by: d.by }, 'directive');
    const load: LoadMode = d.action === 'shed' ? 'shedding' : d.action === 'drain' ? 'draining' : 'normal';
    const changed = this.state.load !== load;
    this.state.setLoad(load);
    const target = d.action === 'drain' ? 0 : d.targetLinks;
    if (d.action === 'normal' || target === undefined) this.mover.cancel();
    else
      this.mover.start({
        target,
        toward: d.toward,
        reason: d.reason,
        closeCode: CloseCode.MOVED,
        ratePerSec: this.config.shedding.movesPerSec,
        noPeer: 'wait',
      });
    if (changed)
      this.cluster.refresh().catch((err: Error) => log.warn({ err: err.message }, 'publishing the load state failed (the next load update retries)'));
  }
}
