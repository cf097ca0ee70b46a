import type { Frame } from '../codec/frame';
import type { Link } from '../link/link';

/**
 * One link of the chain. onFrame returns true when it handled the frame, which ends the
 * walk; handlers decide and answer through the link, the chain only orders them.
 */
export interface LinkEventHandler {
  onOpen?(link: Link): Promise<void> | void;
  /** after `connected` was queued */
  onReady?(link: Link): void;
  onFrame?(link: Link, frame: Frame): Promise<boolean> | boolean;
  onClose?(link: Link, code: number, reason: string): void;
}

export const LINK_EVENT_HANDLERS = Symbol('LINK_EVENT_HANDLERS');
