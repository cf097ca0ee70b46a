import { AckCode, JoinDecision, UplinkBackend, UplinkReply, UplinkRequest } from './uplink.backend';

/**
 * The built-in backend for a node with no backend configured (`make run`): answers every
 * request with its own body, so the req -> backend -> ack path is whole without a backend.
 */
export class EchoBackend extends UplinkBackend {
  async request(req: UplinkRequest): Promise<UplinkReply> {
    return { code: AckCode.OK, body: req.body };
  }
  /** allows every join except to rooms named `private.*`, so the approval path is testable */
  async authorizeJoin(_session: unknown, room: string): Promise<JoinDecision> {
    return room.startsWith('private.') ? { allowed: false, code: 403, msg: 'the backend refused the join' } : { allowed: true };
  }
}
