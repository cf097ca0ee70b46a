import { ElectionEvents, LeaderElection } from '../../cluster/leader-election';

/** Embedded mode: the one node is its own leader. */
export class MemoryLeaderElection extends LeaderElection {
  private events?: ElectionEvents;

  start(nodeId: string, events: ElectionEvents): void {
    this.events = events;
    queueMicrotask(() => {
      events.leader(nodeId);
      events.elected();
    });
  }

  async resign(): Promise<void> {
    const events = this.events;
    this.events = undefined;
    events?.leader(undefined);
  }
}
