/** what the election tells its candidate */
export interface ElectionEvents {
  /** this node leads from now on, until `lost` */
  elected(): void;
  /** this node no longer leads (its campaign failed: etcd lost its lease); the election campaigns again by itself */
  lost(err: Error): void;
  /** the cluster's leader as seen by this node changed (undefined: none right now) */
  leader(nodeId: string | undefined): void;
}

/**
 * Leader election among the nodes. Guarantees: at most one candidate is elected at a time (etcd:
 * the candidate with the oldest key under the election prefix, each key on its candidate's lease);
 * a leader that dies is followed within the lease TTL (its key goes with its lease); `resign`
 * hands leadership over at once and returns within `timeoutMs` whatever etcd does.
 */
export abstract class LeaderElection {
  /** starts campaigning for `nodeId` and observing the leader; returns at once (it never waits to be elected) */
  abstract start(nodeId: string, events: ElectionEvents): void;
  /** stops campaigning and observing; resolves within `timeoutMs` */
  abstract resign(timeoutMs: number): Promise<void>;
}
