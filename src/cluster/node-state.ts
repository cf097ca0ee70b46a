import { Injectable } from '@nestjs/common';

export type NodeLifecycle = 'starting' | 'running' | 'draining' | 'stopped';

/** The node's lifecycle, read by the upgrader (503 unless running) and by readiness. */
@Injectable()
export class NodeState {
  private state_: NodeLifecycle = 'starting';
  readonly startedAt = Date.now();

  get state(): NodeLifecycle {
    return this.state_;
  }
  get accepting(): boolean {
    return this.state_ === 'running';
  }
  set(state: NodeLifecycle): void {
    this.state_ = state;
  }
}
