import { Session, SessionPage, SessionQuery } from '../../session/session';
import { SessionStore, matches } from '../../session/session.store';

/** Single-process store for embedded mode and unit tests; same guarantees, no cache lag. */
export class MemorySessionStore extends SessionStore {
  private readonly bySid = new Map<string, Session>();

  async put(session: Session): Promise<void> {
    this.bySid.set(session.sid, { ...session });
  }

  async remove(session: Pick<Session, 'sid'>): Promise<void> {
    this.bySid.delete(session.sid);
  }

  async get(sid: string): Promise<Session | undefined> {
    return this.bySid.get(sid);
  }

  async listByUser(bizId: string, userId: string): Promise<Session[]> {
    return [...this.bySid.values()].filter((s) => s.bizId === bizId && s.userId === userId);
  }

  async list(q: SessionQuery): Promise<SessionPage> {
    const all = [...this.bySid.values()].filter((s) => matches(s, q));
    const start = q.cursor ? Number(q.cursor) || 0 : 0;
    const items = all.slice(start, start + q.limit);
    return start + q.limit < all.length ? { items, next: String(start + q.limit) } : { items };
  }

  /** in process, the store is never out of step with the links */
  async reconcile(): Promise<{ added: number; removed: number }> {
    return { added: 0, removed: 0 };
  }

  onReconnected(): void {}

  /** one process: the only node is this one */
  async nodes(): Promise<string[]> {
    return [];
  }

  async removeNode(node: string): Promise<number> {
    let n = 0;
    for (const [sid, s] of this.bySid) if (s.node === node && this.bySid.delete(sid)) n++;
    return n;
  }
}
