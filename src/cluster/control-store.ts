import { AlertRecord, ControlRequest, Directive } from './control';

/** what the leader reads: the records as they are, then each one written after (in write order) */
export interface ControlEvents {
  alert(record: AlertRecord): void;
  request(request: ControlRequest): void;
}

export interface ControlWatch {
  stop(): Promise<void>;
}

/**
 * The operator loop's shared state (control.ts): alert records and operator requests written by
 * any node, directives written by the leader.
 *
 * Guarantees: `recordAlert` is idempotent per (nodeId, key), atomically (etcd: a transaction that
 * creates the key only if it does not exist), so of two nodes receiving the same alert exactly one
 * records it; alert records expire after their TTL (their idempotency window). `watch` delivers
 * every record present when it starts and then every later one, each once, in write order, with
 * no gap between the two (etcd: the watch starts at the snapshot's next revision). A directive is
 * the latest one written for its node; it stays until replaced.
 */
export abstract class ControlStore {
  /** 'recorded' the first time an alert with this key is seen for the node, 'repeat' after */
  abstract recordAlert(record: AlertRecord): Promise<'recorded' | 'repeat'>;
  abstract alerts(): Promise<AlertRecord[]>;
  abstract recordRequest(request: ControlRequest): Promise<void>;
  /** once the leader acted on it (its effect lives on in the directive) */
  abstract deleteRequest(id: string): Promise<void>;
  abstract writeDirective(nodeId: string, directive: Directive): Promise<void>;
  /** every node's current directive */
  abstract directives(): Promise<Map<string, Directive>>;
  abstract watch(events: ControlEvents): Promise<ControlWatch>;
}
