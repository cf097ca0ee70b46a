import { Inject, Injectable } from '@nestjs/common';
import type { Frame } from '../codec/frame';
import { logger } from '../common/logger';
import type { Link } from '../link/link';
import { ErrorCode, LinkManager } from '../link/link.manager';
import { LinkEvents } from './link-events';
import { LINK_EVENT_HANDLERS, LinkEventHandler } from './link-event.handler';

const log = logger('linkevent');

/** Connect / message / disconnect as an ordered chain of handlers (see LinkEventModule). */
@Injectable()
export class LinkEventChain extends LinkEvents {
  constructor(
    @Inject(LINK_EVENT_HANDLERS) private readonly handlers: LinkEventHandler[],
    links: LinkManager,
  ) {
    super();
    links.bind(this);
  }

  async onOpen(link: Link): Promise<void> {
    for (const h of this.handlers) await h.onOpen?.(link);
  }

  onReady(link: Link): void {
    for (const h of this.handlers) h.onReady?.(link);
  }

  async onFrame(link: Link, frame: Frame): Promise<void> {
    for (const h of this.handlers) {
      if (h.onFrame && (await h.onFrame(link, frame))) return;
    }
    link.send({ type: 'error', code: ErrorCode.NOT_ALLOWED, msg: `"${frame.type}" frames are not supported by this node yet` });
  }

  onClose(link: Link, code: number, reason: string): void {
    for (const h of this.handlers) {
      try {
        h.onClose?.(link, code, reason);
      } catch (err) {
        log.error({ sid: link.id, err: (err as Error).message }, 'close handler failed');
      }
    }
  }
}
