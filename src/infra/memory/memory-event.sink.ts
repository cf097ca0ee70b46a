import { EventSink, GatewayEvent } from '../../events/event.sink';

/** Embedded mode: keeps the last events in memory (GET /api/events shows them). */
export class MemoryEventSink extends EventSink {
  readonly recent: GatewayEvent[] = [];
  emit(event: GatewayEvent): void {
    this.recent.push(event);
    if (this.recent.length > 1000) this.recent.splice(0, this.recent.length - 1000);
  }
  async close(): Promise<void> {}
}
