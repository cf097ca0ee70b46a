import { Injectable } from '@nestjs/common';
import type { Frame } from '../../codec/frame';
import type { Link } from '../../link/link';
import { CloseCode } from '../../link/close-codes';
import { LinkManager } from '../../link/link.manager';
import { JwtVerifier, TokenError } from '../../upgrader/jwt.verifier';
import type { LinkEventHandler } from '../link-event.handler';

/**
 * `token {token}` extends the link's life. The new token must verify and name the same user
 * and biz; anything else closes the link with 4002, since it can no longer prove who it is.
 */
@Injectable()
export class TokenRefreshHandler implements LinkEventHandler {
  constructor(
    private readonly verifier: JwtVerifier,
    private readonly links: LinkManager,
  ) {}

  onFrame(link: Link, frame: Frame): boolean {
    if (frame.type !== 'token') return false;
    try {
      const identity = this.verifier.verify(frame.token ?? '');
      if (identity.userId !== link.session.userId || identity.bizId !== link.session.bizId) throw new TokenError('token names another user or biz');
      link.expiresAt = identity.expiresAt;
      this.links.rearm(link);
    } catch (err) {
      this.links.closeLink(link, CloseCode.TOKEN_REJECTED, err instanceof TokenError ? err.message : 'token rejected');
    }
    return true;
  }
}
