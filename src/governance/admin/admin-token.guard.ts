import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { sameSecret } from '../../common/same-secret';
import { GatewayConfig } from '../../config/gateway.config';

/** `Authorization: Bearer <governance.adminToken>`, compared in constant time. */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected: string;

  constructor(config: GatewayConfig) {
    this.expected = config.governance.adminToken ?? '';
  }

  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<{ headers: IncomingHttpHeaders }>().headers.authorization ?? '';
    // no admin token configured: nothing is let in
    if (this.expected === '' || !sameSecret(/^bearer /i.test(header) ? header.slice(7).trim() : '', this.expected)) {
      throw new UnauthorizedException({ error: 'unauthorized', message: 'admin API needs Authorization: Bearer <admin token>' });
    }
    return true;
  }
}
