import { Injectable } from '@nestjs/common';
import { AckCode, UplinkBackend, UplinkReply, UplinkRequest } from './uplink.backend';

/**
 * The built-in backend until gRPC backends land: answers every request with its own body,
 * so the req -> backend -> ack path is whole in both modes.
 */
@Injectable()
export class EchoBackend extends UplinkBackend {
  readonly name = 'echo';
  async request(req: UplinkRequest): Promise<UplinkReply> {
    return { code: AckCode.OK, body: req.body };
  }
  /** allows every join except to rooms named `private.*`, so the approval path is testable */
  async authorizeJoin(_session: unknown, room: string): Promise<boolean> {
    return !room.startsWith('private.');
  }
}
