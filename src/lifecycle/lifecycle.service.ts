import { Injectable } from '@nestjs/common';
import { ClusterService } from '../cluster/cluster.service';
import { DirectiveFollower } from '../cluster/directive-follower.service';
import { LeaderService } from '../cluster/leader.service';
import { LinkMover } from '../cluster/link-mover.service';
import { drainRate } from '../cluster/move-plan';
import { NodeState } from '../cluster/node-state';
import { PeerDirectory } from '../cluster/peer-directory.service';
import { logger } from '../common/logger';
import { withTimeout } from '../common/timeout';
import { GatewayConfig } from '../config/gateway.config';
import { CloseCode } from '../link/close-codes';
import { LinkManager } from '../link/link.manager';
import { LinkServer } from '../link/link-server';
import { PushConsumer } from '../push/push-consumer.service';

const log = logger('lifecycle');

/** how long a drain waits for a fresh peer list before it uses the cached one */
const PEER_READ_TIMEOUT_MS = 1000;

/**
 * The node's life after Nest built it (terminus's GracefulShutdownService shape): the boot
 * order once the dependencies answered, and the drain. main.ts keeps the signals and the exit
 * codes; Nest's own hooks then close the connections (infra modules) after the drain.
 */
@Injectable()
export class LifecycleService {
  private stopping?: Promise<void>;

  constructor(
    private readonly config: GatewayConfig,
    private readonly state: NodeState,
    private readonly cluster: ClusterService,
    private readonly consumer: PushConsumer,
    private readonly links: LinkManager,
    private readonly server: LinkServer,
    private readonly leader: LeaderService,
    private readonly mover: LinkMover,
    private readonly peers: PeerDirectory,
    private readonly directives: DirectiveFollower,
  ) {}

  /**
   * After the governance app listens: the gateway port listens (upgrades get 503 until
   * `running`), sessions a previous process with this node id left behind are cleared, the
   * node registers in etcd, it starts campaigning for the lead, the Kafka consumer joins its group, and the node is `running`.
   */
  async start(): Promise<void> {
    await this.server.listen();
    await this.cluster.join();
    // campaigns in the background: boot never waits to be elected
    this.leader.start();
    await this.consumer.start();
    this.state.set('running');
    await this.cluster.refresh();
    await this.directives.start();
  }

  /**
   * Draining, paced like every move (issue 11). The node stops following directives and turns
   * `draining` (upgrades get 503 with a peer, readiness fails), published in its registration at
   * once so balancers and peers stop sending it clients; the consumer leaves its group (what this
   * node has not committed goes to the others; pushes for its links still reach it on the bus);
   * then every link gets a `redirect` to a running peer chosen by free room, spread over peers,
   * and close 1001, at a rate that redirects them all within shedding.drainSpreadRatio of what
   * is left of shutdown.drainTimeoutMs (at least shedding.movesPerSec); the rest of the window
   * lets the last ones go, then stragglers are dropped. Only then does the node leave etcd: it
   * stays registered (`draining`) while it still holds links, so no peer sweeps their sessions.
   * Idempotent.
   */
  drain(reason: string): Promise<void> {
    return (this.stopping ??= (async () => {
      const deadline = Date.now() + this.config.shutdown.drainTimeoutMs;
      log.info({ reason }, 'draining');
      this.state.set('draining');
      this.mover.cancel();
      await this.directives.stop();
      // not awaited: a registry that does not answer must not hold the links' drain
      this.cluster.refresh().catch((err: Error) => log.warn({ err: err.message }, 'publishing the draining state failed'));
      // early, so a successor leads while this node drains (bounded: it never holds the drain up)
      await this.leader.resign();
      await this.consumer.stop();
      await withTimeout(this.peers.refresh(), PEER_READ_TIMEOUT_MS).catch(() => undefined);
      const { shedding } = this.config;
      const links = this.links.registry.size;
      const left = Math.max(0, deadline - Date.now());
      if (links > 0) {
        const ratePerSec = drainRate(links, left, shedding.drainSpreadRatio, shedding.movesPerSec);
        const run = this.mover.start({ target: 0, reason: 'shutdown', closeCode: CloseCode.GOING_AWAY, ratePerSec, noPeer: 'close' });
        // whatever the mover has not redirected by the deadline is closed below
        await withTimeout(run.done, Math.max(0, deadline - Date.now())).catch(() => undefined);
        run.cancel();
      }
      await this.links.closeAll(CloseCode.GOING_AWAY, 'node shutting down', Math.max(0, deadline - Date.now()));
      await this.cluster.leave();
      this.state.set('stopped');
      await this.server.close();
    })());
  }
}
