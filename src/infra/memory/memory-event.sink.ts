import { EventSink, GatewayEvent } from '../../events/event.sink';

const KEEP = 1000;

/** Embedded mode: keeps the last events in memory, for tests and debugging. */
export class MemoryEventSink extends EventSink {
  private readonly ring: GatewayEvent[] = [];
  private next = 0;

  emit(event: GatewayEvent): void {
    if (this.ring.length < KEEP) this.ring.push(event);
    else this.ring[this.next] = event;
    this.next = (this.next + 1) % KEEP;
  }

  /** oldest first */
  get recent(): GatewayEvent[] {
    return this.ring.length < KEEP ? [...this.ring] : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }
  async close(): Promise<void> {}
}
