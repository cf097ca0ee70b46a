import type { IncomingMessage } from 'node:http';
import type { Admitted } from './link.manager';
import type { Refusal } from './refuse';

export type AdmissionDecision =
  | { ok: true; admitted: Admitted }
  /** `result`: the label of the upgrades metric (draining, full, unauthorized, ...) */
  | { ok: false; result: string; refusal: Refusal };

/**
 * Decides whether an upgrade request may become a link (implemented by the upgrader). The link
 * layer acts on the decision: it writes the refusal, or completes the handshake.
 * Guarantee: an `ok` decision has already stored the link's session, so a link never exists
 * without it; abandon() removes it again when the socket goes away before the handshake ends.
 */
export abstract class Admission {
  abstract admit(req: IncomingMessage): Promise<AdmissionDecision>;
  abstract abandon(admitted: Admitted): Promise<void>;
}
