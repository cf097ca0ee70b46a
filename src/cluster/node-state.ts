import { Injectable } from '@nestjs/common';

export type NodeLifecycle = 'starting' | 'running' | 'draining' | 'stopped';

/**
 * What the leader's directive made of a running node (src/cluster/control.ts): `normal` takes
 * new links (also while a `rebalance` moves some off), `shedding` and `draining` refuse them.
 */
export type LoadMode = 'normal' | 'shedding' | 'draining';

/** The node's lifecycle and load mode, read by the upgrader (503 unless accepting) and by readiness. */
@Injectable()
export class NodeState {
  private state_: NodeLifecycle = 'starting';
  private load_: LoadMode = 'normal';
  readonly startedAt = Date.now();

  get state(): NodeLifecycle {
    return this.state_;
  }
  get load(): LoadMode {
    return this.load_;
  }
  /** running and not told to shed or drain */
  get accepting(): boolean {
    return this.state_ === 'running' && this.load_ === 'normal';
  }
  set(state: NodeLifecycle): void {
    this.state_ = state;
  }
  setLoad(load: LoadMode): void {
    this.load_ = load;
  }
}
