/** What backends that track presence and receipts read from gateway.events. */
export type GatewayEvent =
  | { type: 'connected' | 'disconnected'; bizId: string; userId: string; deviceId?: string; sid: string; node: string; ts: number; code?: number }
  | { type: 'joined' | 'left'; bizId: string; userId: string; room: string; node: string; sid?: string; ts: number }
  | { type: 'delivered'; bizId: string; userId: string; deviceId?: string; sid: string; mid: string; node: string; ts: number }
  /** a link this node (`node` = `from`) redirected to node `to` (issue 11); `to` is empty when no peer was known */
  | { type: 'moved'; bizId: string; userId: string; deviceId?: string; sid: string; node: string; from: string; to: string; reason: string; ts: number };

/**
 * Lifecycle events and receipts out to the business side (Kafka gateway.events, key = user id).
 * Guarantee: best effort and non-blocking: emit() never throws and never delays a link; events
 * are batched and sent in order per user; a failure is logged and counted.
 */
export abstract class EventSink {
  abstract emit(event: GatewayEvent): void;
  abstract close(): Promise<void>;
}
