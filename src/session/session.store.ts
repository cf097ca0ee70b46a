import type { Session, SessionPage, SessionQuery } from './session';

/**
 * Sessions and the user -> links directory, shared by every node of the cluster.
 * Guarantees: after put() resolves, get() and listByUser() on any node see the session
 * (cached reads may lag by at most session.cacheTtlMs); after remove() resolves they stop
 * seeing it on the node that removed it, and on others within the cache TTL.
 */
export abstract class SessionStore {
  abstract put(session: Session): Promise<void>;
  abstract remove(session: Pick<Session, 'sid' | 'bizId' | 'userId' | 'node'>): Promise<void>;
  abstract get(sid: string): Promise<Session | undefined>;
  /** every link of one user, on any node */
  abstract listByUser(bizId: string, userId: string): Promise<Session[]>;
  abstract list(query: SessionQuery): Promise<SessionPage>;
  /** drops every session recorded for `node` (a crashed node, or this one restarting with the same id) */
  abstract removeNode(node: string): Promise<number>;
  /**
   * Makes what the directory records for `node` match the links it holds (`live`): a live link
   * missing from it (lost with a Redis that keeps nothing) is written again; a recorded one the
   * node does not hold (closed while Redis was away) is removed, unless its sid is in `keep`
   * (an upgrade that stored its session and is still completing its handshake).
   */
  abstract reconcile(node: string, live: Session[], keep: ReadonlySet<string>): Promise<{ added: number; removed: number }>;
  /** ids of the nodes the directory records sessions for */
  abstract nodes(): Promise<string[]>;
  /** `fn` runs each time the store's connection is back after it was lost */
  abstract onReconnected(fn: () => void): void;
}

export function matches(s: Session, q: SessionQuery): boolean {
  if (q.bizId !== undefined && s.bizId !== q.bizId) return false;
  if (q.userId !== undefined && s.userId !== q.userId) return false;
  if (q.name !== undefined && !(s.name ?? '').toLowerCase().includes(q.name.toLowerCase())) return false;
  return true;
}
