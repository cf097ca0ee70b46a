import type { AlertRecord, Directive } from '../../cluster/control';
import type { MoveRecord } from '../../cluster/move-log';
import type { NodeInfo } from '../../cluster/node-registry';

/**
 * The admin UI's one snapshot (GET /api/overview, and each `overview` event of GET /api/live).
 * A node serves it about the cluster as it sees it; the balancer serves the same shape from its
 * own checks. docs/admin-ui.md is the contract; the UI reads nothing else.
 */
export interface Overview {
  at: number;
  source: 'node' | 'balancer';
  /** the node id (or the balancer id) that assembled it */
  self: string;
  leader: string | null;
  nodes: OverviewNode[];
  backends: OverviewBackend[];
  /** most recent first, at most OVERVIEW_ALERTS */
  alerts: AlertRecord[];
  directives: OverviewDirective[];
  /** most recent first; a node lists its own */
  moves: MoveRecord[];
  /** the balancer's pick strategy */
  strategy?: string;
  /** what could not be read for this snapshot (the registry, the control store), in words */
  warnings?: string[];
}

export interface OverviewNode {
  id: string;
  wsUrl: string;
  adminUrl: string;
  state: NodeInfo['state'];
  online: number;
  users: number;
  capacity: number;
  leader: boolean;
  healthy: boolean;
  /** when the source last saw the node answer (a node: the registry read that listed it) */
  lastCheck: number | null;
  error?: string;
}

export interface OverviewBackend {
  bizId: string;
  instances: { instance: string; addr: string; circuit: string; outstanding: number }[];
}

export type OverviewDirective = Directive & { nodeId: string };

export const OVERVIEW_ALERTS = 50;
/** a node gone from the registry stays listed, unhealthy, this long */
export const VANISHED_KEEP_MS = 60_000;

/**
 * What the registry said about each node lately. A node that left the registry (its lease
 * expired: it died; or it deregistered) is kept, unhealthy, for `keepMs`, so an operator
 * watching sees it turn red instead of silently disappearing.
 */
export class NodeSightings {
  private readonly seen = new Map<string, { info: NodeInfo; at: number }>();

  constructor(private readonly keepMs = VANISHED_KEEP_MS) {}

  /**
   * The nodes for a snapshot at `now`: `listed` (the registry's answer) as healthy but for
   * `selfUnhealthy` (this node itself when it is not running), then the recently vanished ones
   * as unhealthy. `listed` undefined = the registry did not answer (`error`): every node known
   * is shown as it was last seen, unhealthy, with the error.
   */
  nodes(
    now: number,
    listed: NodeInfo[] | undefined,
    leader: string | null,
    self: { id: string; running: boolean; state: string },
    error?: string,
  ): OverviewNode[] {
    const out: OverviewNode[] = [];
    const shape = (info: NodeInfo, healthy: boolean, lastCheck: number | null, why?: string): OverviewNode => ({
      id: info.id,
      wsUrl: info.wsUrl,
      adminUrl: info.adminUrl,
      state: info.state,
      online: info.online,
      users: info.users,
      capacity: info.capacity,
      leader: info.id === leader,
      healthy,
      lastCheck,
      ...(why ? { error: why } : {}),
    });
    if (listed) {
      const present = new Set<string>();
      for (const info of listed) {
        present.add(info.id);
        this.seen.set(info.id, { info, at: now });
        const selfDown = info.id === self.id && !self.running;
        out.push(shape(info, !selfDown, now, selfDown ? `this node is ${self.state}` : undefined));
      }
      for (const [id, { info, at }] of this.seen) {
        if (present.has(id)) continue;
        if (now - at > this.keepMs) {
          this.seen.delete(id);
          continue;
        }
        out.push(shape(info, false, at, `gone from the registry ${Math.round((now - at) / 1000)} s ago (lease expired or deregistered)`));
      }
    } else {
      for (const [id, { info, at }] of this.seen) {
        if (now - at > this.keepMs) this.seen.delete(id);
        else out.push(shape(info, false, at, `registry unavailable: ${error ?? 'no answer'}`));
      }
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }
}

/** circuitStates() grouped per biz, bizs and instances in name order */
export function backendsByBiz(states: readonly { bizId: string; instance: string; addr: string; circuit: string; outstanding: number }[]): OverviewBackend[] {
  const byBiz = new Map<string, OverviewBackend['instances']>();
  for (const s of states) {
    const list = byBiz.get(s.bizId) ?? [];
    list.push({ instance: s.instance, addr: s.addr, circuit: s.circuit, outstanding: s.outstanding });
    byBiz.set(s.bizId, list);
  }
  return [...byBiz.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([bizId, instances]) => ({ bizId, instances: instances.sort((a, b) => a.instance.localeCompare(b.instance)) }));
}

/** most recent first (by receipt), at most `max` */
export function recentAlerts(alerts: readonly AlertRecord[], max = OVERVIEW_ALERTS): AlertRecord[] {
  return [...alerts].sort((a, b) => b.receivedAt - a.receivedAt).slice(0, max);
}

/** every node's directive, most recently issued first */
export function directiveList(directives: ReadonlyMap<string, Directive>): OverviewDirective[] {
  return [...directives.entries()].map(([nodeId, d]) => ({ nodeId, ...d })).sort((a, b) => b.issuedAt - a.issuedAt);
}

/**
 * Who assembles the overview: the node (OverviewService, from its registry and stores) or the
 * balancer (BalancerOverview, a node's view with its own health checks). LiveOverview streams
 * whichever the app binds. Guarantee: snapshot() settles (a part that cannot be read becomes a
 * `warnings` entry, not a rejection).
 */
export abstract class OverviewSource {
  abstract snapshot(): Promise<Overview>;
}
