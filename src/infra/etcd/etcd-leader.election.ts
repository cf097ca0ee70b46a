import type { Campaign, Election, ElectionObserver } from 'etcd3';
import { ElectionEvents, LeaderElection } from '../../cluster/leader-election';
import { logger } from '../../common/logger';
import { withTimeout } from '../../common/timeout';
import { EtcdConnection } from './etcd.connection';

const log = logger('leader');

/**
 * etcd3's election (the Go client's concurrency.Election): each candidate puts its node id under
 * `<key>/election/gateway/<leaseId>` on a lease of `ttlSec` kept alive by etcd3; the oldest key
 * leads. A failed campaign (lease lost) or observer is started again after `retryMs`.
 */
export class EtcdLeaderElection extends LeaderElection {
  private readonly election: Election;
  private campaign?: Campaign;
  private observer?: ElectionObserver;
  private running = false;
  private timers = new Set<NodeJS.Timeout>();

  constructor(
    etcd: EtcdConnection,
    /** controlKeys(prefix).election */
    key: string,
    ttlSec: number,
    private readonly retryMs = 1000,
  ) {
    super();
    this.election = etcd.client.namespace(`${key}/`).election('gateway', ttlSec);
  }

  start(nodeId: string, events: ElectionEvents): void {
    this.running = true;
    this.runCampaign(nodeId, events);
    void this.runObserver(events);
  }

  private later(fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.running) fn();
    }, this.retryMs);
    t.unref();
    this.timers.add(t);
  }

  private runCampaign(nodeId: string, events: ElectionEvents): void {
    const campaign = this.election.campaign(nodeId);
    this.campaign = campaign;
    let elected = false;
    campaign.on('elected', () => {
      if (this.campaign !== campaign || !this.running) return;
      elected = true;
      events.elected();
    });
    campaign.on('error', (err: Error) => {
      if (this.campaign !== campaign) return;
      log.warn({ err: err.message, wasLeader: elected }, 'leader campaign failed; campaigning again');
      this.campaign = undefined;
      if (elected) events.lost(err);
      this.later(() => this.runCampaign(nodeId, events));
    });
  }

  private async runObserver(events: ElectionEvents): Promise<void> {
    try {
      const observer = await this.election.observe();
      if (!this.running) {
        await observer.cancel();
        return;
      }
      this.observer = observer;
      events.leader(observer.leader());
      observer.on('change', (leader) => events.leader(leader));
      observer.on('error', (err: Error) => {
        log.warn({ err: err.message }, 'leader observer failed; observing again');
        if (this.observer === observer) this.observer = undefined;
        events.leader(undefined);
        this.later(() => void this.runObserver(events));
      });
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'leader observer could not start; trying again');
      this.later(() => void this.runObserver(events));
    }
  }

  async resign(timeoutMs: number): Promise<void> {
    this.running = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const campaign = this.campaign;
    const observer = this.observer;
    this.campaign = undefined;
    this.observer = undefined;
    const work = Promise.allSettled([campaign?.resign(), observer?.cancel()]);
    try {
      await withTimeout(work, timeoutMs);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'resigning did not finish; the lease will expire');
    }
  }
}
