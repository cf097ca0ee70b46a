import { Injectable } from '@nestjs/common';
import { CloseCode } from '../../link/close-codes';
import type { Link } from '../../link/link';
import { LinkManager } from '../../link/link.manager';
import { JwtVerifier, TokenError } from '../../upgrader/jwt.verifier';

/**
 * `token {token}` extends the link's life. The new token must verify and name the same user
 * and biz; anything else closes the link with 4002, since it can no longer prove who it is.
 */
@Injectable()
export class TokenRefreshHandler {
  constructor(
    private readonly verifier: JwtVerifier,
    private readonly links: LinkManager,
  ) {}

  refresh(link: Link, token: string): void {
    try {
      const identity = this.verifier.verify(token);
      if (identity.userId !== link.session.userId || identity.bizId !== link.session.bizId) throw new TokenError('token names another user or biz');
      link.expiresAt = identity.expiresAt;
      this.links.rearm(link);
    } catch (err) {
      this.links.closeLink(link, CloseCode.TOKEN_REJECTED, err instanceof TokenError ? err.message : 'token rejected');
    }
  }
}
