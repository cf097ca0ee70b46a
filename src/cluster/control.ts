/**
 * The operator loop's contract (issue 11): what an alert or an operator asks, what the leader
 * decides, and what a node then does. Three parties, one etcd key space next to the nodes'
 * registrations (`etcd.controlPrefix`, default `/gateway/control/`):
 *
 *   <controlPrefix>alerts/<nodeId>/<alertKey>   AlertRecord   written by whichever node received the webhook
 *   <controlPrefix>requests/<requestId>         ControlRequest written by the node that received an admin call
 *   <controlPrefix>directives/<nodeId>          Directive     written by the leader only; read by that node
 *   <controlPrefix>leader                       etcd3 Election campaign key (the leader's node id)
 *
 * The leader (etcd3's election API) reads alerts and requests and turns them into directives;
 * each node watches its own directive and moves links (paced redirects) to meet it. A node with
 * no directive key behaves as `normal`. In embedded mode the same ports have in-memory adapters
 * and the single node is its own leader.
 */

/** what an overloaded/resolved alert says about one node, keyed so a repeat changes nothing */
export interface AlertRecord {
  nodeId: string;
  /** fingerprint + startsAt (Alertmanager's fingerprint, or Grafana's), the idempotency key */
  key: string;
  alertname: string;
  status: 'firing' | 'resolved';
  source: 'alertmanager' | 'grafana';
  /** the alert's value when the payload carries one (Grafana's `values`, or a `value` annotation) */
  value?: number;
  /** the alert's threshold (annotation or label `threshold`): the node sheds to it minus `shedding.marginRatio` */
  threshold?: number;
  /** the alert's labels.instance when it named the node that way */
  instance?: string;
  startsAt: string;
  receivedAt: number;
  /** the node that received the webhook */
  receivedBy: string;
}

/** an operator's call on any node (POST /api/nodes/:id/drain|shed|undrain), for the leader to act on */
export interface ControlRequest {
  id: string;
  nodeId: string;
  kind: 'drain' | 'shed' | 'undrain';
  /** shed: move links until the node has at most this many */
  targetLinks?: number;
  at: number;
  receivedBy: string;
}

/** why links move (the `reason` of a `redirect` frame and the label of the moves metric) */
export type MoveReason = 'alert' | 'manual' | 'rebalance' | 'drain' | 'shutdown';

/**
 * What the leader tells one node. `normal`: take new links, move nothing. `shed`: refuse new
 * upgrades (503 + Retry-After + a peer) and move links off until at most `targetLinks` remain,
 * then keep refusing until the directive changes (an alert's `resolved`, an `undrain`).
 * `rebalance`: move links down to `targetLinks` toward `toward` but keep taking new ones.
 * `drain`: move every link off and refuse new ones, until `undrain`.
 */
export interface Directive {
  /** unique per decision: a node acts once on each */
  id: string;
  action: 'normal' | 'shed' | 'rebalance' | 'drain';
  reason: MoveReason;
  targetLinks?: number;
  /** node ids to send the moved links to, in preference order (rebalance: the emptiest); empty = any running peer by load */
  toward?: string[];
  issuedAt: number;
  /** the leader's node id */
  by: string;
}

/** `etcd.controlPrefix`, or the node prefix's sibling `control/` (/gateway/nodes/ -> /gateway/control/) */
export function controlPrefixOf(etcd: { prefix: string; controlPrefix?: string }): string {
  if (etcd.controlPrefix) return etcd.controlPrefix.endsWith('/') ? etcd.controlPrefix : `${etcd.controlPrefix}/`;
  const trimmed = etcd.prefix.replace(/\/+$/, '');
  const parent = trimmed.slice(0, trimmed.lastIndexOf('/') + 1) || '/';
  return `${parent}control/`;
}

export const controlKeys = (prefix: string) => ({
  alerts: `${prefix}alerts/`,
  alert: (nodeId: string, key: string) => `${prefix}alerts/${nodeId}/${key}`,
  requests: `${prefix}requests/`,
  request: (id: string) => `${prefix}requests/${id}`,
  directives: `${prefix}directives/`,
  directive: (nodeId: string) => `${prefix}directives/${nodeId}`,
  election: `${prefix}leader`,
});
