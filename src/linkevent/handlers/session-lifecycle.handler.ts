import { Injectable } from '@nestjs/common';
import { logger } from '../../common/logger';
import { LocalDelivery } from '../../delivery/local-delivery.service';
import { EventSink } from '../../events/event.sink';
import { CloseCode } from '../../link/close-codes';
import type { Link } from '../../link/link';
import { LinkManager } from '../../link/link.manager';
import { RoomsService } from '../../rooms/rooms.service';
import { SessionStore } from '../../session/session.store';

const log = logger('session');

/**
 * A link from open to close. Before `connected` goes out, the link's user, biz and room
 * channels are live, so a client that has `connected` receives every later push; a setup that
 * fails closes the link with 1011. On close the channels are released and the session (stored
 * by the upgrader before the upgrade) removed. `connected` / `disconnected` events go to
 * gateway.events for presence tracking.
 */
@Injectable()
export class SessionLifecycleHandler {
  constructor(
    private readonly delivery: LocalDelivery,
    private readonly rooms: RoomsService,
    private readonly sessions: SessionStore,
    private readonly events: EventSink,
    private readonly links: LinkManager,
  ) {}

  async open(link: Link): Promise<void> {
    const s = link.session;
    try {
      await Promise.all([this.delivery.attach(link), this.rooms.attach(link)]);
    } catch (err) {
      log.warn({ sid: link.id, err: (err as Error).message }, 'link setup failed: closing');
      this.links.closeLink(link, CloseCode.INTERNAL_ERROR, 'setup failed');
      return;
    }
    this.events.emit({ type: 'connected', bizId: s.bizId, userId: s.userId, deviceId: s.deviceId, sid: s.sid, node: s.node, ts: Date.now() });
    if (!link.send({ type: 'connected', sid: s.sid, node: s.node, heartbeatMs: this.links.heartbeatMs })) return;
    this.delivery.ready(link);
  }

  close(link: Link): void {
    this.delivery.detach(link);
    this.rooms.detach(link);
    const s = link.session;
    this.events.emit({
      type: 'disconnected',
      bizId: s.bizId,
      userId: s.userId,
      deviceId: s.deviceId,
      sid: s.sid,
      node: s.node,
      ts: Date.now(),
      code: link.endCode,
    });
    this.sessions.remove(s).catch((err: Error) => log.warn({ sid: link.id, err: err.message }, 'session removal failed; node cleanup will catch it'));
  }
}
