import { LRUCache } from 'lru-cache';
import { Session, SessionPage, SessionQuery } from '../../session/session';
import { SessionStore, matches } from '../../session/session.store';
import { RedisConnection } from './redis.connection';

const part = (s: string) => encodeURIComponent(s);

/**
 * Redis layout (prefix `gw:` by default):
 *   <p>sess             hash  sid -> session JSON      (lookup by id, cluster-wide listing)
 *   <p>u:<biz>:<user>   hash  sid -> session JSON      (the user -> links directory)
 *   <p>n:<node>         set   sids held by a node      (cleanup when a node dies)
 *   <p>sidx             zset  every sid, score 0       (stable lexical paging for listings)
 *   <p>nodes            set   ids of the nodes with sessions (the sweep of dead nodes)
 * Every write touches the three in one MULTI, so they never disagree. Reads go through a
 * local LRU with a short TTL: a hot user's directory costs one Redis read per TTL.
 */
export class RedisSessionStore extends SessionStore {
  private readonly bySid: LRUCache<string, Session | false>;
  private readonly byUser: LRUCache<string, Session[]>;

  /**
   * @param clock what the caches age their entries by, in milliseconds (default: the process's
   *   monotonic clock). A clock passed in is read on every lookup, so a test that moves it sees
   *   entries expire at once.
   */
  constructor(
    private readonly redis: RedisConnection,
    cacheMax: number,
    cacheTtlMs: number,
    clock?: { now(): number },
  ) {
    super();
    // lru-cache reuses one reading of its clock for ttlResolution (1 ms of real time) by default
    const timing = clock ? { perf: clock, ttlResolution: 0 } : {};
    this.bySid = new LRUCache({ max: cacheMax, ttl: cacheTtlMs, ...timing });
    this.byUser = new LRUCache({ max: cacheMax, ttl: cacheTtlMs, ...timing });
  }

  private get p(): string {
    return this.redis.keyPrefix;
  }
  private userKey(bizId: string, userId: string): string {
    return `${this.p}u:${part(bizId)}:${part(userId)}`;
  }

  async put(s: Session): Promise<void> {
    const json = JSON.stringify(s);
    const res = await this.redis.command
      .multi()
      .hset(`${this.p}sess`, s.sid, json)
      .hset(this.userKey(s.bizId, s.userId), s.sid, json)
      .sadd(`${this.p}n:${part(s.node)}`, s.sid)
      .sadd(`${this.p}nodes`, s.node)
      .zadd(`${this.p}sidx`, 0, s.sid)
      .exec();
    throwIfFailed(res);
    // not cached here: the writing node holds the link itself, other nodes cache on read
    this.bySid.delete(s.sid);
    this.byUser.delete(`${s.bizId}\0${s.userId}`);
  }

  async remove(s: Pick<Session, 'sid' | 'bizId' | 'userId' | 'node'>): Promise<void> {
    const res = await this.redis.command
      .multi()
      .hdel(`${this.p}sess`, s.sid)
      .hdel(this.userKey(s.bizId, s.userId), s.sid)
      .srem(`${this.p}n:${part(s.node)}`, s.sid)
      .zrem(`${this.p}sidx`, s.sid)
      .exec();
    throwIfFailed(res);
    this.bySid.delete(s.sid);
    this.byUser.delete(`${s.bizId}\0${s.userId}`);
  }

  async get(sid: string): Promise<Session | undefined> {
    const cached = this.bySid.get(sid);
    if (cached !== undefined) return cached || undefined;
    const json = await this.redis.command.hget(`${this.p}sess`, sid);
    const s = json ? (JSON.parse(json) as Session) : undefined;
    this.bySid.set(sid, s ?? false);
    return s;
  }

  async listByUser(bizId: string, userId: string): Promise<Session[]> {
    const key = `${bizId}\0${userId}`;
    const cached = this.byUser.get(key);
    if (cached) return cached;
    const all = await this.redis.command.hvals(this.userKey(bizId, userId));
    const sessions = all.map((j) => JSON.parse(j) as Session);
    this.byUser.set(key, sessions);
    return sessions;
  }

  async list(q: SessionQuery): Promise<SessionPage> {
    if (q.bizId !== undefined && q.userId !== undefined) {
      const all = (await this.redis.command.hvals(this.userKey(q.bizId, q.userId))).map((j) => JSON.parse(j) as Session).filter((s) => matches(s, q));
      all.sort((a, b) => a.connectedAt - b.connectedAt);
      const start = Number(q.cursor ?? 0) || 0;
      const items = all.slice(start, start + q.limit);
      return start + q.limit < all.length ? { items, next: String(start + q.limit) } : { items };
    }
    // Walk the sid index in lexical order from the cursor (the last sid returned), reading
    // sessions in batches and filtering, until the page is full or the index ends. The cursor
    // is a sid, so paging is stable while links come and go.
    const items: Session[] = [];
    let from = q.cursor ? `(${q.cursor}` : '-';
    const batch = Math.max(q.limit, 100);
    for (;;) {
      const sids = await this.redis.command.zrangebylex(`${this.p}sidx`, from, '+', 'LIMIT', 0, batch);
      if (sids.length === 0) return { items };
      const jsons = await this.redis.command.hmget(`${this.p}sess`, ...sids);
      for (let i = 0; i < sids.length; i++) {
        const json = jsons[i];
        if (!json) continue;
        const s = JSON.parse(json) as Session;
        if (!matches(s, q)) continue;
        items.push(s);
        if (items.length === q.limit) {
          const more = i < sids.length - 1 || (await this.redis.command.zrangebylex(`${this.p}sidx`, `(${s.sid}`, '+', 'LIMIT', 0, 1)).length > 0;
          return more ? { items, next: s.sid } : { items };
        }
      }
      if (sids.length < batch) return { items };
      from = `(${sids[sids.length - 1]}`;
    }
  }

  async reconcile(node: string, live: Session[], keep: ReadonlySet<string>): Promise<{ added: number; removed: number }> {
    const nodeKey = `${this.p}n:${part(node)}`;
    const recorded = new Set(await this.redis.command.smembers(nodeKey));
    const held = new Set(live.map((s) => s.sid));
    const missing = live.filter((s) => !recorded.has(s.sid));
    const extra = [...recorded].filter((sid) => !held.has(sid) && !keep.has(sid));
    let removed = 0;
    if (extra.length) {
      const jsons = await this.redis.command.hmget(`${this.p}sess`, ...extra);
      const multi = this.redis.command.multi();
      extra.forEach((sid, i) => {
        const json = jsons[i];
        const s = json ? (JSON.parse(json) as Session) : undefined;
        multi.hdel(`${this.p}sess`, sid).zrem(`${this.p}sidx`, sid).srem(nodeKey, sid);
        if (s) {
          multi.hdel(this.userKey(s.bizId, s.userId), sid);
          this.byUser.delete(`${s.bizId}\0${s.userId}`);
        }
        this.bySid.delete(sid);
        removed++;
      });
      if (removed) throwIfFailed(await multi.exec());
    }
    for (const s of missing) await this.put(s);
    return { added: missing.length, removed };
  }

  async nodes(): Promise<string[]> {
    return this.redis.command.smembers(`${this.p}nodes`);
  }

  onReconnected(fn: () => void): void {
    this.redis.onRestored('command', fn);
  }

  async removeNode(node: string): Promise<number> {
    const sids = await this.redis.command.smembers(`${this.p}n:${part(node)}`);
    if (sids.length === 0) {
      await this.redis.command.srem(`${this.p}nodes`, node);
      return 0;
    }
    const jsons = await this.redis.command.hmget(`${this.p}sess`, ...sids);
    const multi = this.redis.command.multi();
    sids.forEach((sid, i) => {
      multi.hdel(`${this.p}sess`, sid);
      multi.zrem(`${this.p}sidx`, sid);
      const json = jsons[i];
      if (json) {
        const s = JSON.parse(json) as Session;
        multi.hdel(this.userKey(s.bizId, s.userId), sid);
        this.byUser.delete(`${s.bizId}\0${s.userId}`);
      }
      this.bySid.delete(sid);
    });
    multi.del(`${this.p}n:${part(node)}`);
    multi.srem(`${this.p}nodes`, node);
    throwIfFailed(await multi.exec());
    return sids.length;
  }
}

function throwIfFailed(res: [Error | null, unknown][] | null): void {
  if (!res) throw new Error('redis transaction aborted');
  const failed = res.find(([err]) => err);
  if (failed) throw failed[0];
}
