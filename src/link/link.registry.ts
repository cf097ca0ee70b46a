import type { Link } from './link';

const userKey = (bizId: string, userId: string) => `${bizId}\u0000${userId}`;

/** The links this node holds, indexed by id, by user and by biz. Local state only. */
export class LinkRegistry {
  private readonly bySid = new Map<string, Link>();
  private readonly byUser = new Map<string, Set<Link>>();
  private readonly byBiz = new Map<string, Set<Link>>();
  private emptyWaiters: (() => void)[] = [];

  get size(): number {
    return this.bySid.size;
  }

  get userCount(): number {
    return this.byUser.size;
  }

  add(link: Link): void {
    const { sid, bizId, userId } = link.session;
    this.bySid.set(sid, link);
    const key = userKey(bizId, userId);
    let links = this.byUser.get(key);
    if (!links) this.byUser.set(key, (links = new Set()));
    links.add(link);
    let biz = this.byBiz.get(bizId);
    if (!biz) this.byBiz.set(bizId, (biz = new Set()));
    biz.add(link);
  }

  remove(link: Link): boolean {
    const { sid, bizId, userId } = link.session;
    if (this.bySid.get(sid) !== link) return false;
    this.bySid.delete(sid);
    const key = userKey(bizId, userId);
    const links = this.byUser.get(key);
    links?.delete(link);
    if (links && links.size === 0) this.byUser.delete(key);
    const biz = this.byBiz.get(bizId);
    biz?.delete(link);
    if (biz && biz.size === 0) this.byBiz.delete(bizId);
    if (this.bySid.size === 0 && this.emptyWaiters.length) for (const w of this.emptyWaiters.splice(0)) w();
    return true;
  }

  /** Resolves once no link is left. */
  whenEmpty(): Promise<void> {
    if (this.bySid.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  get(sid: string): Link | undefined {
    return this.bySid.get(sid);
  }

  ofUser(bizId: string, userId: string): ReadonlySet<Link> | undefined {
    return this.byUser.get(userKey(bizId, userId));
  }

  ofBiz(bizId: string): ReadonlySet<Link> | undefined {
    return this.byBiz.get(bizId);
  }

  all(): IterableIterator<Link> {
    return this.bySid.values();
  }
}
