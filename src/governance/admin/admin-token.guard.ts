import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayConfig } from '../../config/gateway.config';

/** `Authorization: Bearer <governance.adminToken>`, compared in constant time. */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(config: GatewayConfig) {
    this.expected = Buffer.from(config.governance.adminToken ?? '');
  }

  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<{ headers: IncomingHttpHeaders }>().headers.authorization ?? '';
    const given = Buffer.from(/^bearer /i.test(header) ? header.slice(7).trim() : '');
    if (this.expected.length === 0 || given.length !== this.expected.length || !timingSafeEqual(given, this.expected)) {
      throw new UnauthorizedException({ error: 'unauthorized', message: 'admin API needs Authorization: Bearer <admin token>' });
    }
    return true;
  }
}
