import type { Frame } from '../codec/frame';
import type { Link } from '../link/link';

/**
 * What happens on a link, as the link layer reports it. Implemented by the linkevent chain;
 * the link layer knows nothing of backends, tokens or pushes.
 */
export abstract class LinkEvents {
  /**
   * The link is open and registered. The link layer sends `connected` once this resolves, so
   * a client that got `connected` can rely on everything onOpen set up (push subscriptions).
   * A rejection closes the link with 1011.
   */
  abstract onOpen(link: Link): Promise<void>;
  /** `connected` has been queued on the link: it may now receive pushes */
  abstract onReady(link: Link): void;
  /** a decoded client frame of a type clients may send */
  abstract onFrame(link: Link, frame: Frame): Promise<void>;
  /** the link is gone (any reason); it is already out of the registry */
  abstract onClose(link: Link, code: number, reason: string): void;
}
