import { Controller, Get, Req, Res } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UiAssets } from './ui-assets';

/** what the routes need of Fastify's request and reply */
interface RawRequest {
  raw: IncomingMessage;
}
interface HijackableReply {
  raw: ServerResponse;
  hijack(): void;
}

/** The admin web UI at /ui on the governance app (no auth: the page asks for the admin token). */
@Controller('ui')
export class UiController {
  private readonly assets = new UiAssets({ mount: '/ui/' });

  // HEAD too: Fastify answers it with the GET route (serve() then writes no body)
  @Get()
  page(@Req() req: RawRequest, @Res() reply: HijackableReply): Promise<void> {
    return this.answer(req, reply);
  }

  @Get('*')
  asset(@Req() req: RawRequest, @Res() reply: HijackableReply): Promise<void> {
    return this.answer(req, reply);
  }

  private answer(req: RawRequest, reply: HijackableReply): Promise<void> {
    reply.hijack();
    return this.assets.serveRequest(req.raw, reply.raw);
  }
}
