import { Injectable } from '@nestjs/common';
import { Channels } from '../../bus/cluster-bus';
import { Subscriptions } from '../../bus/subscriptions';
import { logger } from '../../common/logger';
import type { Link } from '../../link/link';
import { SessionStore } from '../../session/session.store';
import type { LinkEventHandler } from '../link-event.handler';

const log = logger('session');

/**
 * Puts the link on the bus channels of its user and biz before `connected` goes out, and
 * on close releases them and removes the session (written by the upgrader before the upgrade).
 */
@Injectable()
export class SessionLifecycleHandler implements LinkEventHandler {
  constructor(
    private readonly subscriptions: Subscriptions,
    private readonly sessions: SessionStore,
  ) {}

  async onOpen(link: Link): Promise<void> {
    const { bizId, userId } = link.session;
    await Promise.all([this.subscriptions.acquire(Channels.user(bizId, userId)), this.subscriptions.acquire(Channels.biz(bizId))]);
  }

  onClose(link: Link): void {
    const { bizId, userId } = link.session;
    this.subscriptions.release(Channels.user(bizId, userId));
    this.subscriptions.release(Channels.biz(bizId));
    this.sessions.remove(link.session).catch((err: Error) => log.warn({ sid: link.id, err: err.message }, 'session removal failed; node cleanup will catch it'));
  }
}
