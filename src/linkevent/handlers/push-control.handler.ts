import { Injectable } from '@nestjs/common';
import { UplinkBackend } from '../../backend/uplink.backend';
import type { Frame } from '../../codec/frame';
import { GatewayConfig } from '../../config/gateway.config';
import { LocalDelivery } from '../../delivery/local-delivery.service';
import { EventSink } from '../../events/event.sink';
import type { Link } from '../../link/link';
import { RoomsService } from '../../rooms/rooms.service';

const ROOM = /^[\w.@:+-]{1,128}$/;

/**
 * The client's side of pushes: `resume {epoch, seq}`, `ack-push {mid}` (-> a `delivered`
 * receipt on gateway.events), `join {room}` / `leave {room}` (answered with
 * `ack {id: "join:<room>" | "leave:<room>", code}`; joins of bizs in rooms.approvalBizIds ask
 * the backend first).
 */
@Injectable()
export class PushControlHandler {
  private readonly approval: ReadonlySet<string>;

  constructor(
    private readonly delivery: LocalDelivery,
    private readonly rooms: RoomsService,
    private readonly events: EventSink,
    private readonly backend: UplinkBackend,
    config: GatewayConfig,
  ) {
    this.approval = new Set(config.rooms.approvalBizIds);
  }

  async resume(link: Link, epoch: string | undefined, seq: number): Promise<void> {
    await this.delivery.resume(link, epoch || undefined, seq);
  }

  /** `mid` is 1-128 characters: the edge refused the frame otherwise (frameProblem, FRAME_LIMITS) */
  ackPush(link: Link, mid: string): void {
    const s = link.session;
    this.events.emit({ type: 'delivered', bizId: s.bizId, userId: s.userId, deviceId: s.deviceId, sid: s.sid, mid, node: s.node, ts: Date.now() });
  }

  /** the ack frame for a join or leave */
  async membership(link: Link, op: 'join' | 'leave', room: string): Promise<Frame> {
    const s = link.session;
    const id = `${op}:${room}`;
    if (!ROOM.test(room)) return { type: 'ack', id, code: 400, msg: 'room must be 1-128 characters of letters, digits, _ . @ : + -' };
    if (op === 'join' && this.approval.has(s.bizId)) {
      const decision = await this.backend.authorizeJoin(s, room);
      if (!decision.allowed) return { type: 'ack', id, code: decision.code ?? 403, msg: decision.msg ?? 'the backend refused the join' };
    }
    if (op === 'join') await this.rooms.join(s.bizId, room, s.userId, s.sid);
    else await this.rooms.leave(s.bizId, room, s.userId, s.sid);
    return { type: 'ack', id, code: 0 };
  }
}
