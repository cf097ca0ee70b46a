import { Injectable } from '@nestjs/common';
import type { Frame } from '../../codec/frame';
import type { Link } from '../../link/link';
import type { LinkEventHandler } from '../link-event.handler';

/** App-level `ping` -> `pong` for browsers, which cannot see WebSocket control frames. */
@Injectable()
export class HeartbeatHandler implements LinkEventHandler {
  onFrame(link: Link, frame: Frame): boolean {
    if (frame.type === 'ping') {
      link.send({ type: 'pong', ts: frame.ts ?? Date.now() });
      return true;
    }
    return frame.type === 'pong';
  }
}
