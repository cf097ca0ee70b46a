import { Injectable } from '@nestjs/common';
import { logger } from '../common/logger';
import { withTimeout } from '../common/timeout';
import { GatewayConfig } from '../config/gateway.config';
import { leastLoaded } from './move-plan';
import { NodeInfo, NodeRegistry } from './node-registry';

const log = logger('peers');

/** how long a caller waits for the first read of the peer list (etcd away: no peer, at once) */
const FIRST_READ_TIMEOUT_MS = 1000;

/**
 * The cluster's nodes as the registry lists them, reused for `shedding.peerCacheMs`: a refused
 * upgrade or a moved link costs no etcd read of its own. Stale-while-revalidate: once a list
 * was read, callers get it at once and a stale one is refreshed in the background (one read at
 * a time); only the very first caller waits, at most FIRST_READ_TIMEOUT_MS. A failed read keeps
 * the last list.
 */
@Injectable()
export class PeerDirectory {
  private nodes_?: NodeInfo[];
  private readAt = 0;
  private reading?: Promise<NodeInfo[]>;

  constructor(
    private readonly config: GatewayConfig,
    private readonly registry: NodeRegistry,
  ) {}

  /** the nodes (this one included, as last published), no older than peerCacheMs unless etcd is away */
  async nodes(): Promise<readonly NodeInfo[]> {
    const fresh = Date.now() - this.readAt < this.config.shedding.peerCacheMs;
    if (this.nodes_ && fresh) return this.nodes_;
    const reading = this.refresh();
    if (this.nodes_) return this.nodes_;
    return withTimeout(reading, FIRST_READ_TIMEOUT_MS).catch(() => []);
  }

  /** reads the list now (one read at a time), e.g. as a drain begins */
  refresh(): Promise<NodeInfo[]> {
    return (this.reading ??= this.registry
      .list()
      .then((nodes) => {
        this.nodes_ = nodes;
        this.readAt = Date.now();
        return nodes;
      })
      .catch((err: Error) => {
        log.warn({ err: err.message }, 'peer list read failed; keeping the last one');
        return this.nodes_ ?? [];
      })
      .finally(() => (this.reading = undefined)));
  }

  /** the running peer with the most room, for a refused client to go to */
  async leastLoaded(): Promise<{ node: string; url: string } | undefined> {
    return leastLoaded(await this.nodes(), this.config.node.id);
  }
}
