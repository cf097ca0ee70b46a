import { Injectable } from '@nestjs/common';
import { UplinkBackend } from '../../backend/uplink.backend';
import type { Frame } from '../../codec/frame';
import { GatewayConfig } from '../../config/gateway.config';
import { EventSink } from '../../events/event.sink';
import type { Link } from '../../link/link';
import { ErrorCode } from '../../link/link.manager';
import { PushService } from '../../push/push.service';
import type { LinkEventHandler } from '../link-event.handler';

const ROOM = /^[\w.@:+-]{1,128}$/;

/**
 * The client's side of pushes: `resume {epoch, seq}`, `ack-push {mid}` (-> a `delivered`
 * receipt on gateway.events), `join {room}` / `leave {room}` (answered with
 * `ack {id: "join:<room>" | "leave:<room>", code}`).
 */
@Injectable()
export class PushControlHandler implements LinkEventHandler {
  private readonly approval: ReadonlySet<string>;

  constructor(
    private readonly push: PushService,
    private readonly events: EventSink,
    private readonly backend: UplinkBackend,
    config: GatewayConfig,
  ) {
    this.approval = new Set(config.rooms.approvalBizIds);
  }

  async onFrame(link: Link, frame: Frame): Promise<boolean> {
    const s = link.session;
    switch (frame.type) {
      case 'resume':
        await this.push.resume(link, frame.epoch || undefined, frame.seq ?? 0);
        return true;
      case 'ack-push':
        if (!frame.mid) link.send({ type: 'error', code: ErrorCode.BAD_FRAME, msg: 'ack-push needs a mid' });
        else
          this.events.emit({
            type: 'delivered',
            bizId: s.bizId,
            userId: s.userId,
            deviceId: s.deviceId,
            sid: s.sid,
            mid: frame.mid,
            node: s.node,
            ts: Date.now(),
          });
        return true;
      case 'join':
      case 'leave': {
        const room = frame.room ?? '';
        const id = `${frame.type}:${room}`;
        if (!ROOM.test(room)) {
          link.send({ type: 'ack', id, code: 400, msg: 'room must be 1-128 characters of letters, digits, _ . @ : + -' });
          return true;
        }
        if (frame.type === 'join' && this.approval.has(s.bizId)) {
          const ok = await this.backend.authorizeJoin(s, room);
          if (!ok) {
            link.send({ type: 'ack', id, code: 403, msg: 'the backend refused the join' });
            return true;
          }
        }
        if (frame.type === 'join') await this.push.joinRoom(s.bizId, room, s.userId, s.sid);
        else await this.push.leaveRoom(s.bizId, room, s.userId, s.sid);
        link.send({ type: 'ack', id, code: 0 });
        return true;
      }
      default:
        return false;
    }
  }
}
