/** one node as the planner sees it */
export interface NodeLoad {
  id: string;
  /** open links */
  online: number;
  /** running with directive normal (or none): nodes shedding, draining or rebalancing are neither sources nor destinations */
  eligible: boolean;
  /** when it joined the cluster (its registration's startedAt) */
  startedAt: number;
}

export interface RebalanceOptions {
  thresholdRatio: number;
  minLinks: number;
  forMs: number;
  settleMs: number;
}

/** what the planner keeps between rounds (owned by the caller, passed back in) */
export interface RebalanceState {
  /** since when the spread has been over the bound without a break */
  imbalancedSince?: number;
  /** node ids seen in earlier rounds: one not among them is a node that joined */
  known: string[];
}

export interface RebalanceMove {
  /** the fullest node: it moves links until it holds at most targetLinks */
  nodeId: string;
  targetLinks: number;
  /** where the moved links go, emptiest first (nodes below the mean) */
  toward: string[];
  /** why now: the spread lasted forMs, or a node joined (and settled) */
  trigger: 'spread' | 'joined';
}

export interface RebalancePlan {
  move?: RebalanceMove;
  state: RebalanceState;
  /** the bound the spread was measured against (for logs and tests) */
  allowed?: number;
}

/**
 * One round of live rebalancing, a pure function: loads in, at most one move out. The spread
 * (fullest - emptiest of the eligible nodes) may reach max(thresholdRatio x mean, minLinks);
 * past it for forMs (or at once when a node joined and has been up settleMs, and again in each
 * round while that node is still more than half the bound under the mean), the fullest node is
 * told to come down to the mean (rounded up), its links going to the nodes below the mean. Bounded: one source per round (the caller keeps at most one move in flight),
 * never below the mean, nothing for fewer than two eligible nodes.
 */
export function planRebalance(loads: NodeLoad[], opts: RebalanceOptions, state: RebalanceState, now: number): RebalancePlan {
  const known = new Set(state.known);
  const joined = loads.filter((n) => !known.has(n.id) && state.known.length > 0);
  // a node counts as known only once settled, so that its join still triggers a move then
  let nextKnown = loads.filter((n) => known.has(n.id) || now - n.startedAt >= opts.settleMs || state.known.length === 0).map((n) => n.id);
  const eligible = loads.filter((n) => n.eligible);
  if (eligible.length < 2) return { state: { known: nextKnown } };
  const mean = eligible.reduce((s, n) => s + n.online, 0) / eligible.length;
  const allowed = Math.max(opts.thresholdRatio * mean, opts.minLinks);
  const sorted = [...eligible].sort((a, b) => b.online - a.online || a.id.localeCompare(b.id));
  const fullest = sorted[0];
  const emptiest = sorted[sorted.length - 1];
  if (fullest.online - emptiest.online <= allowed) return { state: { known: nextKnown }, allowed };
  const imbalancedSince = state.imbalancedSince ?? now;
  // a settled joined node still far under the mean: its join goes on (one source per move, so
  // filling it takes a move per fuller node) and it stays unknown, so the next source moves
  // in the next round rather than after forMs; it is known once level or the spread is gone
  const owed = joined.filter((n) => n.eligible && now - n.startedAt >= opts.settleMs && mean - n.online > allowed / 2);
  const settledJoin = owed.length > 0;
  if (settledJoin) nextKnown = nextKnown.filter((id) => !owed.some((n) => n.id === id));
  const lasted = now - imbalancedSince >= opts.forMs;
  if (!settledJoin && !lasted) return { state: { known: nextKnown, imbalancedSince }, allowed };
  const targetLinks = Math.ceil(mean);
  if (fullest.online <= targetLinks) return { state: { known: nextKnown, imbalancedSince }, allowed };
  const toward = sorted
    .filter((n) => n.online < mean)
    .reverse()
    .map((n) => n.id);
  return {
    move: { nodeId: fullest.id, targetLinks, toward, trigger: settledJoin ? 'joined' : 'spread' },
    // the spread is measured afresh after this move
    state: { known: nextKnown },
    allowed,
  };
}
