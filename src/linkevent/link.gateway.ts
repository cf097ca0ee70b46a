import { UseFilters } from '@nestjs/common';
import { OnGatewayConnection, OnGatewayDisconnect, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Frame } from '../codec/frame';
import type { Link } from '../link/link';
import { FrameExceptionFilter } from './frame-exception.filter';
import { PushControlHandler } from './handlers/push-control.handler';
import { RequestHandler } from './handlers/request.handler';
import { SessionLifecycleHandler } from './handlers/session-lifecycle.handler';
import { TokenRefreshHandler } from './handlers/token-refresh.handler';

type F<T extends Frame['type']> = Extract<Frame, { type: T }>;

/**
 * What happens on a link, the Nest way: connect and disconnect, and one `@SubscribeMessage`
 * handler per client frame type. The client is our `Link` and frames arrive decoded by the
 * link's codec (GatewayWsAdapter); a handler that returns a frame has it sent on the link, and
 * a handler that throws answers with an `error` frame (FrameExceptionFilter). A link's frames
 * are handled one at a time in arrival order, so a `join` then `leave` cannot swap; `req` hands
 * its request to the backend and returns, so a slow backend does not hold the link's other
 * frames (its ack, matched by id, comes when the backend answers). Extend the gateway by adding
 * a handler here, with guards, pipes or interceptors as on any Nest gateway.
 *
 * Handlers take `(link, frame)` as Nest passes them by default, without `@ConnectedSocket()` /
 * `@MessageBody()`: those decorators make Nest resolve each argument through its pipe chain
 * (several awaits per frame), which cost ~5 µs of CPU per frame at saturation in `make bench`.
 * A handler that wants a pipe (a ValidationPipe on its body) adds the decorators and pays for it.
 */
@WebSocketGateway()
@UseFilters(FrameExceptionFilter)
export class LinkGateway implements OnGatewayConnection<Link>, OnGatewayDisconnect<Link> {
  constructor(
    private readonly lifecycle: SessionLifecycleHandler,
    private readonly requests: RequestHandler,
    private readonly control: PushControlHandler,
    private readonly tokens: TokenRefreshHandler,
  ) {}

  handleConnection(link: Link): void {
    void this.lifecycle.open(link);
  }

  handleDisconnect(link: Link): void {
    this.lifecycle.close(link);
  }

  /** app-level heartbeat for browsers, which cannot see WebSocket control frames */
  @SubscribeMessage('ping')
  ping(_link: Link, frame: F<'ping'>): Frame {
    return { type: 'pong', ts: frame.ts ?? Date.now() };
  }

  @SubscribeMessage('pong')
  pong(): void {}

  @SubscribeMessage('token')
  token(link: Link, frame: F<'token'>): void {
    this.tokens.refresh(link, frame.token ?? '');
  }

  @SubscribeMessage('req')
  request(link: Link, frame: F<'req'>): void {
    this.requests.start(link, frame);
  }

  @SubscribeMessage('resume')
  resume(link: Link, frame: F<'resume'>): Promise<void> {
    return this.control.resume(link, frame.epoch, frame.seq ?? 0);
  }

  @SubscribeMessage('ack-push')
  ackPush(link: Link, frame: F<'ack-push'>): void {
    // a frame without a mid never gets here: the edge answers it with error 400
    this.control.ackPush(link, frame.mid!);
  }

  @SubscribeMessage('join')
  join(link: Link, frame: F<'join'>): Promise<Frame> {
    return this.control.membership(link, 'join', frame.room ?? '');
  }

  @SubscribeMessage('leave')
  leave(link: Link, frame: F<'leave'>): Promise<Frame> {
    return this.control.membership(link, 'leave', frame.room ?? '');
  }
}
