import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { logger } from '../common/logger';
import { withTimeout } from '../common/timeout';
import { GatewayConfig } from '../config/gateway.config';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { alertIdentity } from './alert-key';
import { AlertRecord, ControlRequest, Directive } from './control';
import { ControlStore, ControlWatch } from './control-store';
import { LeaderService } from './leader.service';
import { NodeInfo, NodeRegistry } from './node-registry';
import { planRebalance, RebalanceState } from './rebalance.planner';

const log = logger('coordinator');

type Decision = Pick<Directive, 'action' | 'reason' | 'targetLinks' | 'toward'>;

/** the shed target of a firing alert: its threshold minus the margin, else the node's links minus the margin */
export function shedTarget(firing: AlertRecord[], online: number | undefined, shedding: { marginRatio: number; targetLinks?: number }): number | undefined {
  if (shedding.targetLinks !== undefined) return shedding.targetLinks;
  const thresholds = firing.map((a) => a.threshold).filter((t): t is number => typeof t === 'number' && Number.isFinite(t));
  const keep = 1 - shedding.marginRatio;
  if (thresholds.length) return Math.max(0, Math.floor(Math.min(...thresholds) * keep));
  if (online !== undefined) return Math.max(0, Math.floor(online * keep));
  const values = firing.map((a) => a.value).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return values.length ? Math.max(0, Math.floor(Math.min(...values) * keep)) : undefined;
}

/**
 * The leader's part of the operator loop (control.ts): it runs only while this node leads. On
 * taking the lead it reads every alert record and pending request (so what was posted while no
 * node led is acted on), then follows them as they are written, and turns them into directives:
 *
 * - a node with a firing alert sheds (`shed`, reason `alert`) down to shedTarget(); once none of
 *   its alerts is firing it goes back to `normal`, unless an operator drained or shed it;
 * - an operator's drain / shed / undrain becomes `drain` / `shed` / `normal` (reason `manual`),
 *   and the request is deleted (its effect lives on in the directive);
 * - every rebalance.intervalMs the loads are compared (planRebalance) and at most one rebalance
 *   move is in flight; it ends (`normal`) once the node is at its target or after moveTimeoutMs.
 *
 * Each round also retries what failed to be written (etcd away), so decisions converge.
 */
@Injectable()
export class CoordinatorService implements OnModuleInit, OnApplicationShutdown {
  private epoch = 0;
  private active = false;
  private watch?: ControlWatch;
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private counter = 0;
  private unsubscribe?: () => void;
  /** node -> alert identity -> the records seen for it (firing and/or resolved) */
  private alertsByNode = new Map<string, Map<string, Map<AlertRecord['status'], AlertRecord>>>();
  private pending = new Map<string, ControlRequest>();
  private current = new Map<string, Directive>();
  private inFlight?: { nodeId: string; targetLinks: number; directiveId: string; since: number };
  /** after a move ended: each node's updatedAt then, and until when to wait for them all to publish again */
  private stale?: { updatedAt: Map<string, number>; until: number };
  private rebalanceState: RebalanceState = { known: [] };

  constructor(
    private readonly config: GatewayConfig,
    private readonly leader: LeaderService,
    private readonly store: ControlStore,
    private readonly registry: NodeRegistry,
    private readonly metrics: GatewayMetrics,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.leader.onChange((leading) => (leading ? this.activate() : this.deactivate()));
  }

  async onApplicationShutdown(): Promise<void> {
    this.unsubscribe?.();
    await this.deactivate();
  }

  /** runs `fn` after everything enqueued before, and not at all if the lead was lost meanwhile */
  private enqueue(fn: () => Promise<void>): Promise<void> {
    const epoch = this.epoch;
    this.chain = this.chain
      .then(() => (this.epoch === epoch ? fn() : undefined))
      .catch((err: Error) => log.warn({ err: err.message }, 'coordinator step failed; retried next round'));
    return this.chain;
  }

  private activate(): void {
    this.active = true;
    const epoch = ++this.epoch;
    void this.enqueue(async () => {
      this.current = await this.store.directives();
      this.alertsByNode.clear();
      this.pending.clear();
      this.inFlight = undefined;
      this.stale = undefined;
      this.rebalanceState = { known: [] };
      for (const [nodeId, d] of this.current)
        if (d.action === 'rebalance') this.inFlight = { nodeId, targetLinks: d.targetLinks ?? 0, directiveId: d.id, since: Date.now() };
      let replaying = true;
      const watch = await this.store.watch({
        alert: (a) => {
          this.remember(a);
          if (!replaying) void this.enqueue(() => this.reconcileAlerts(a.nodeId));
        },
        request: (r) => {
          this.pending.set(r.id, r);
          if (!replaying) void this.enqueue(() => this.processRequests());
        },
      });
      replaying = false;
      if (this.epoch !== epoch) {
        await watch.stop();
        return;
      }
      this.watch = watch;
      this.timer = setInterval(() => void this.enqueue(() => this.round()), this.config.rebalance.intervalMs);
      this.timer.unref();
      log.info({ alerts: this.alertsByNode.size, requests: this.pending.size, directives: this.current.size }, 'coordinating as the leader');
      await this.round();
    });
  }

  private async deactivate(): Promise<void> {
    this.epoch++;
    if (!this.active) return;
    this.active = false;
    clearInterval(this.timer);
    this.timer = undefined;
    const watch = this.watch;
    this.watch = undefined;
    // bounded: with etcd away, cancelling the watch may never be answered, and shutdown must end
    if (watch) await withTimeout(watch.stop(), 2000).catch(() => undefined);
  }

  private remember(a: AlertRecord): void {
    let byIdentity = this.alertsByNode.get(a.nodeId);
    if (!byIdentity) this.alertsByNode.set(a.nodeId, (byIdentity = new Map()));
    const id = alertIdentity(a.key);
    let statuses = byIdentity.get(id);
    if (!statuses) byIdentity.set(id, (statuses = new Map()));
    statuses.set(a.status, a);
  }

  /** the node's alerts still firing: a firing record with no resolved one for the same alert */
  private firing(nodeId: string): AlertRecord[] {
    const out: AlertRecord[] = [];
    for (const statuses of this.alertsByNode.get(nodeId)?.values() ?? []) {
      const f = statuses.get('firing');
      if (f && !statuses.has('resolved')) out.push(f);
    }
    return out;
  }

  /** one round: retries, every node's alerts, then rebalancing */
  private async round(): Promise<void> {
    await this.processRequests();
    let nodes: NodeInfo[] | undefined;
    for (const nodeId of this.alertsByNode.keys()) await this.reconcileAlerts(nodeId, (nodes ??= await this.registry.list()));
    if (this.config.rebalance.enabled) await this.rebalance(nodes ?? (await this.registry.list()));
  }

  private async reconcileAlerts(nodeId: string, nodes?: NodeInfo[]): Promise<void> {
    const current = this.current.get(nodeId);
    // an operator's drain or shed wins over alerts until the operator undrains
    if (current && current.reason === 'manual' && current.action !== 'normal') return;
    let firing = this.firing(nodeId);
    // an operator's undrain: alerts that were already firing then do not shed the node again, later ones do
    if (current && current.reason === 'manual') firing = firing.filter((a) => a.receivedAt > current.issuedAt);
    const shedding = current?.action === 'shed' && current.reason === 'alert';
    if (firing.length && !shedding) {
      const node = (nodes ?? (await this.registry.list())).find((n) => n.id === nodeId);
      await this.issue(nodeId, { action: 'shed', reason: 'alert', targetLinks: shedTarget(firing, node?.online, this.config.shedding) });
    } else if (!firing.length && shedding) {
      await this.issue(nodeId, { action: 'normal', reason: 'alert' });
    }
  }

  private async processRequests(): Promise<void> {
    const requests = [...this.pending.values()].sort((a, b) => a.at - b.at);
    for (const r of requests) {
      const decision: Decision =
        r.kind === 'drain'
          ? { action: 'drain', reason: 'manual', targetLinks: 0 }
          : r.kind === 'shed'
            ? { action: 'shed', reason: 'manual', targetLinks: r.targetLinks }
            : { action: 'normal', reason: 'manual' };
      await this.issue(r.nodeId, decision);
      this.pending.delete(r.id);
      await this.store.deleteRequest(r.id).catch((err: Error) => log.warn({ err: err.message, request: r.id }, 'could not delete an acted-on request'));
    }
  }

  private async rebalance(nodes: NodeInfo[]): Promise<void> {
    const now = Date.now();
    const moving = this.inFlight;
    if (moving) {
      const node = nodes.find((n) => n.id === moving.nodeId);
      const directive = this.current.get(moving.nodeId);
      if (directive?.id !== moving.directiveId) this.inFlight = undefined;
      else if (!node || node.online <= moving.targetLinks || now - moving.since > this.config.rebalance.moveTimeoutMs) {
        if (node) await this.issue(moving.nodeId, { action: 'normal', reason: 'rebalance' });
        this.inFlight = undefined;
        // the destinations' loads as listed now predate the links that just reached them
        this.stale = { updatedAt: new Map(nodes.map((n) => [n.id, n.updatedAt])), until: now + 2 * this.config.etcd.loadIntervalMs };
        log.info(
          { node: moving.nodeId, online: node?.online, target: moving.targetLinks, met: !!node && node.online <= moving.targetLinks },
          'rebalance move ended',
        );
      }
      return;
    }
    // plan the next move on loads published after the last one ended (else the destinations
    // look emptier than they are and the next source overshoots); bounded, a silent node is not waited for
    const stale = this.stale;
    if (stale && now < stale.until && nodes.some((n) => stale.updatedAt.get(n.id) === n.updatedAt)) return;
    this.stale = undefined;
    const loads = nodes.map((n) => {
      const d = this.current.get(n.id);
      return { id: n.id, online: n.online, startedAt: n.startedAt, eligible: n.state === 'running' && (!d || d.action === 'normal') };
    });
    const { thresholdRatio, minLinks, forMs, settleMs } = this.config.rebalance;
    const plan = planRebalance(loads, { thresholdRatio, minLinks, forMs, settleMs }, this.rebalanceState, now);
    this.rebalanceState = plan.state;
    if (!plan.move) return;
    const { nodeId, targetLinks, toward, trigger } = plan.move;
    const d = await this.issue(nodeId, { action: 'rebalance', reason: 'rebalance', targetLinks, toward });
    this.inFlight = { nodeId, targetLinks, directiveId: d.id, since: now };
    log.info({ node: nodeId, targetLinks, toward, trigger, allowed: plan.allowed }, 'rebalancing');
  }

  private async issue(nodeId: string, decision: Decision): Promise<Directive> {
    const by = this.config.node.id!;
    const issuedAt = Date.now();
    const directive: Directive = { id: `${by}-${++this.counter}-${issuedAt.toString(36)}`, ...decision, issuedAt, by };
    if (directive.targetLinks === undefined) delete directive.targetLinks;
    if (directive.toward === undefined) delete directive.toward;
    await this.store.writeDirective(nodeId, directive);
    this.current.set(nodeId, directive);
    if (this.inFlight?.nodeId === nodeId && directive.action !== 'rebalance') this.inFlight = undefined;
    this.metrics.directives.inc({ action: directive.action, reason: directive.reason });
    log.info({ node: nodeId, directive }, 'directive issued');
    return directive;
  }
}
