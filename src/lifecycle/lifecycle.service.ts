import { Injectable } from '@nestjs/common';
import { ClusterService } from '../cluster/cluster.service';
import { LeaderService } from '../cluster/leader.service';
import { NodeRegistry } from '../cluster/node-registry';
import { NodeState } from '../cluster/node-state';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { CloseCode } from '../link/close-codes';
import { LinkManager } from '../link/link.manager';
import { LinkServer } from '../link/link-server';
import { PushConsumer } from '../push/push-consumer.service';

const log = logger('lifecycle');

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
    private readonly registry: NodeRegistry,
    private readonly consumer: PushConsumer,
    private readonly links: LinkManager,
    private readonly server: LinkServer,
    private readonly leader: LeaderService,
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
  }

  /**
   * Draining: upgrades get 503 and readiness fails; the consumer leaves its group first (what
   * this node has not committed goes to the others); the node leaves etcd; every link gets a
   * `redirect` to the least loaded running peer (if there is one) and close 1001; the drain
   * waits for the links to go, up to shutdown.drainTimeoutMs, then drops the rest. Idempotent.
   */
  drain(reason: string): Promise<void> {
    return (this.stopping ??= (async () => {
      log.info({ reason }, 'draining');
      this.state.set('draining');
      // first, so a successor leads while this node drains (bounded: it never holds the drain up)
      await this.leader.resign();
      await this.consumer.stop();
      await this.cluster.leave();
      const peer = await this.pickPeer().catch(() => undefined);
      await this.links.closeAll(CloseCode.GOING_AWAY, 'node shutting down', this.config.shutdown.drainTimeoutMs, peer);
      this.state.set('stopped');
      await this.server.close();
    })());
  }

  /** A running peer with room to send clients to while this node drains, the least loaded first. */
  async pickPeer(): Promise<string | undefined> {
    const peers = (await this.registry.list()).filter((n) => n.id !== this.config.node.id && n.state === 'running' && n.online < n.capacity);
    peers.sort((a, b) => a.online / a.capacity - b.online / b.capacity);
    return peers[0]?.wsUrl;
  }
}
