import { createHash } from 'node:crypto';

export type StrategyName = 'round_robin' | 'least_conn' | 'consistent_hash';

/** A node that may take a new link now (in the registry, running, passing its probes). */
export interface Candidate {
  id: string;
  /** links it holds as last reported, plus the ones this balancer sent it since */
  load: number;
  capacity: number;
}

/** points per node on the hash ring: enough that four nodes share keys within a few percent */
const VNODES = 160;

function hash32(s: string): number {
  return createHash('md5').update(s).digest().readUInt32BE(0);
}

/**
 * The order in which a new link tries the candidates (the first that accepts it takes it):
 * - round_robin: in turn, by node id;
 * - least_conn: the lowest load per capacity first (ties by id);
 * - consistent_hash: clockwise on a hash ring from the user id's point, so a user's links land
 *   on one node, and a node leaving moves only its own users (to the next node on the ring).
 */
export class Strategy {
  private turn = 0;
  private ring?: { ids: string; points: Uint32Array; owners: string[] };

  constructor(readonly name: StrategyName) {}

  order(candidates: readonly Candidate[], userId: string): Candidate[] {
    if (candidates.length <= 1) return [...candidates];
    switch (this.name) {
      case 'round_robin': {
        const sorted = [...candidates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        const start = this.turn++ % sorted.length;
        return [...sorted.slice(start), ...sorted.slice(0, start)];
      }
      case 'least_conn':
        return [...candidates].sort((a, b) => a.load / Math.max(1, a.capacity) - b.load / Math.max(1, b.capacity) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      case 'consistent_hash':
        return this.walk(candidates, userId);
    }
  }

  private walk(candidates: readonly Candidate[], userId: string): Candidate[] {
    const ring = this.ringOf(candidates.map((c) => c.id));
    const byId = new Map(candidates.map((c) => [c.id, c]));
    const h = hash32(userId);
    // first point at or after h (wrapping)
    let lo = 0;
    let hi = ring.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ring.points[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    const out: Candidate[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < ring.points.length && out.length < candidates.length; i++) {
      const owner = ring.owners[(lo + i) % ring.points.length];
      if (seen.has(owner)) continue;
      seen.add(owner);
      out.push(byId.get(owner)!);
    }
    return out;
  }

  private ringOf(ids: string[]): { points: Uint32Array; owners: string[] } {
    const key = [...ids].sort().join('\n');
    if (this.ring?.ids === key) return this.ring;
    const entries: [number, string][] = [];
    for (const id of ids) for (let v = 0; v < VNODES; v++) entries.push([hash32(`${id}#${v}`), id]);
    entries.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
    this.ring = { ids: key, points: Uint32Array.from(entries.map((e) => e[0])), owners: entries.map((e) => e[1]) };
    return this.ring;
  }
}
