/**
 * The `host:port` of a node's URL with the port spelled out (http and ws 80, https and wss 443):
 * for its adminUrl, what Prometheus scrapes and puts in `instance` (/api/sd), and what an alert's
 * `labels.instance` is matched against (/webhook/v1, which also tries the wsUrl). Throws on a
 * string that is not a URL.
 */
export function hostPortOf(url: string): string {
  const u = new URL(url);
  // URL drops a scheme's default port (http://h:80 -> "h"); Prometheus writes it
  return u.port ? u.host : `${u.host}:${u.protocol === 'https:' || u.protocol === 'wss:' ? 443 : 80}`;
}

/** What a node publishes about itself at /gateway/nodes/<id> (DESIGN.md). */
export interface NodeInfo {
  id: string;
  wsUrl: string;
  adminUrl: string;
  /** open links */
  online: number;
  /** distinct users */
  users: number;
  capacity: number;
  /**
   * balancers and peers send clients only to `running` nodes; `shedding` (told to shed load) and
   * `draining` (SIGTERM or a drain directive) nodes still serve their links but take no new ones
   */
  state: 'starting' | 'running' | 'shedding' | 'draining';
  startedAt: number;
  updatedAt: number;
}

/**
 * Cluster membership. Guarantee: a registered node's entry disappears within the lease TTL
 * after the node dies (etcd lease), and at once when it deregisters.
 */
export abstract class NodeRegistry {
  abstract register(info: NodeInfo): Promise<void>;
  /** replaces the node's entry (load, state) under the same lease */
  abstract update(info: NodeInfo): Promise<void>;
  abstract deregister(): Promise<void>;
  abstract list(): Promise<NodeInfo[]>;
}
