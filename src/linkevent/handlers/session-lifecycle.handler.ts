import { Injectable } from '@nestjs/common';
import { logger } from '../../common/logger';
import { EventSink } from '../../events/event.sink';
import type { Link } from '../../link/link';
import { PushService } from '../../push/push.service';
import { SessionStore } from '../../session/session.store';
import type { LinkEventHandler } from '../link-event.handler';

const log = logger('session');

/**
 * Before `connected` goes out: the link's user, biz and room channels are live. On close: they
 * are released and the session (written by the upgrader before the upgrade) removed.
 * `connected` / `disconnected` events go to gateway.events for presence tracking.
 */
@Injectable()
export class SessionLifecycleHandler implements LinkEventHandler {
  constructor(
    private readonly push: PushService,
    private readonly sessions: SessionStore,
    private readonly events: EventSink,
  ) {}

  async onOpen(link: Link): Promise<void> {
    await this.push.attach(link);
    const s = link.session;
    this.events.emit({ type: 'connected', bizId: s.bizId, userId: s.userId, deviceId: s.deviceId, sid: s.sid, node: s.node, ts: Date.now() });
  }

  onReady(link: Link): void {
    this.push.ready(link);
  }

  onClose(link: Link, code: number): void {
    this.push.detach(link);
    const s = link.session;
    this.events.emit({ type: 'disconnected', bizId: s.bizId, userId: s.userId, deviceId: s.deviceId, sid: s.sid, node: s.node, ts: Date.now(), code });
    this.sessions.remove(s).catch((err: Error) => log.warn({ sid: link.id, err: err.message }, 'session removal failed; node cleanup will catch it'));
  }
}
