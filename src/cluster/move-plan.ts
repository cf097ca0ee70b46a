import type { NodeInfo } from './node-registry';

/**
 * The pure parts of moving links (no clock, no sockets): how many links may move now, and to
 * which peer each goes. LinkMover drives them; src/cluster/move-plan.spec.ts checks them.
 */

/** how often the mover wakes up: a rate of 200/s moves 10 links every 50 ms, never 200 at once */
export const MOVE_TICK_MS = 50;

/**
 * Paces moves at `ratePerSec`, evenly, on a schedule: by time t after the start, one tick's
 * worth plus rate x t may have moved; take(now) answers how many more may move now. A tick that
 * comes late (a busy event loop) catches up, but never more than `maxTicks` ticks' worth at once;
 * the rest of the debt follows on the next ticks. So the average rate holds (a drain finishes
 * in its window) and no single tick releases a burst.
 */
export class Pacer {
  private given = 0;
  private readonly first: number;
  private readonly cap: number;

  constructor(
    readonly ratePerSec: number,
    private readonly start: number,
    readonly tickMs = MOVE_TICK_MS,
    maxTicks = 4,
  ) {
    const perTick = (ratePerSec * tickMs) / 1000;
    this.first = Math.max(1, Math.floor(perTick));
    this.cap = Math.max(1, Math.ceil(maxTicks * perTick));
  }

  take(now: number): number {
    const due = Math.floor(this.first + (this.ratePerSec * Math.max(0, now - this.start)) / 1000) - this.given;
    const n = Math.max(0, Math.min(due, this.cap));
    this.given += n;
    return n;
  }
}

/**
 * The drain's rate: at least `movesPerSec`, and fast enough to redirect `links` within
 * `spreadRatio` of the drain window (the rest of the window is for the last clients to go).
 * A node with few links therefore drains at the normal pace rather than waiting out the window.
 */
export function drainRate(links: number, drainTimeoutMs: number, spreadRatio: number, movesPerSec: number): number {
  const windowSec = (drainTimeoutMs * spreadRatio) / 1000;
  return Math.max(movesPerSec, windowSec > 0 ? Math.ceil(links / windowSec) : links);
}

/** a peer a moved link may go to */
export interface PeerRoom {
  id: string;
  url: string;
  /** capacity − online as the peer last published it */
  free: number;
  /** when the peer published it */
  updatedAt: number;
}

/** a node links may be sent to: not this one, running (not starting, shedding or draining), with room */
function takesLinks(n: NodeInfo, selfId: string): boolean {
  return n.id !== selfId && n.state === 'running' && n.online < n.capacity;
}

/** Running peers with room, from the registry's list. */
export function candidatePeers(nodes: readonly NodeInfo[], selfId: string): PeerRoom[] {
  return nodes
    .filter((n) => takesLinks(n, selfId))
    .map((n) => ({ id: n.id, url: n.wsUrl, free: n.capacity - n.online, updatedAt: n.updatedAt }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** The least-loaded running peer (most free room), for the 503 body; undefined when none. */
export function leastLoaded(nodes: readonly NodeInfo[], selfId: string): { node: string; url: string } | undefined {
  let best: NodeInfo | undefined;
  for (const n of nodes) {
    if (!takesLinks(n, selfId)) continue;
    if (!best || n.online / n.capacity < best.online / best.capacity) best = n;
  }
  return best ? { node: best.id, url: best.wsUrl } : undefined;
}

/**
 * Spreads moved links over peers in proportion to their free room (smooth weighted round robin,
 * nginx's: deterministic, and the picks of any short run are already in proportion), where a
 * peer's room is what it published minus what this spreader has already sent it since. With
 * `toward`, only those of the preferred peers that have room are candidates; when none has, any
 * peer is. Undefined when no peer has room.
 */
export class PeerSpreader {
  private peers: PeerRoom[] = [];
  private readonly sent = new Map<string, number>();
  private readonly current = new Map<string, number>();

  constructor(private readonly toward: readonly string[] = []) {}

  /**
   * The peers' published loads. A peer that published since the last update is assumed to count
   * what was sent to it before (its `sent` restarts); one that did not keeps its count.
   */
  update(peers: readonly PeerRoom[]): void {
    const before = new Map(this.peers.map((p) => [p.id, p.updatedAt]));
    for (const p of peers) if (before.get(p.id) !== p.updatedAt) this.sent.delete(p.id);
    this.peers = [...peers];
  }

  private room(p: PeerRoom): number {
    return p.free - (this.sent.get(p.id) ?? 0);
  }

  pick(): PeerRoom | undefined {
    let pool = this.peers.filter((p) => this.room(p) > 0);
    if (this.toward.length) {
      const preferred = pool.filter((p) => this.toward.includes(p.id));
      if (preferred.length) pool = preferred;
    }
    if (!pool.length) return undefined;
    let total = 0;
    let best: PeerRoom | undefined;
    let bestScore = -Infinity;
    for (const p of pool) {
      const w = this.room(p);
      total += w;
      const score = (this.current.get(p.id) ?? 0) + w;
      this.current.set(p.id, score);
      if (score > bestScore) {
        bestScore = score;
        best = p;
      }
    }
    this.current.set(best!.id, bestScore - total);
    this.sent.set(best!.id, (this.sent.get(best!.id) ?? 0) + 1);
    return best;
  }
}
