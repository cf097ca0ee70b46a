import * as grpc from '@grpc/grpc-js';
import { BackendTransport, TransportError, WireReply } from '../../backend/backend-transport';
import { gateway } from '../../codec/generated/frames';
import type { Session } from '../../session/session';

const { UplinkRequest, UplinkReply, JoinRequest, JoinReply } = gateway.v1;

const SERVICE = '/gateway.v1.GatewayBackend';
const encode =
  <T>(type: { encode(m: T): { finish(): Uint8Array } }) =>
  (m: T): Buffer => {
    const bytes = type.encode(m).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };

/** the channel settings every backend channel gets */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // the gateway retries itself, by its own rules (only what cannot have reached a backend)
  'grpc.enable_retries': 0,
  // channelz keeps per-call statistics and traces nobody reads here: CPU on every request
  'grpc.enable_channelz': 0,
  'grpc.keepalive_time_ms': 15000,
  'grpc.keepalive_timeout_ms': 5000,
  'grpc.keepalive_permit_without_calls': 1,
  // a dead instance is retried quickly once it is back
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 2000,
};

function sessionInfo(s: Session): gateway.v1.ISessionInfo {
  return { sid: s.sid, bizId: s.bizId, userId: s.userId, deviceId: s.deviceId ?? '', name: s.name ?? '', ip: s.ip, node: s.node };
}

/**
 * gRPC to backends with @grpc/grpc-js, messages from the code generated out of
 * proto/gateway/v1/backend.proto. A call on a channel that is not connected fails at once
 * (no waitForReady), which is how "could not have reached the backend" is known: UNAVAILABLE
 * while the channel was not READY when the call started.
 */
export class GrpcBackendTransport extends BackendTransport {
  private readonly clients = new Map<string, grpc.Client>();

  private client(addr: string): grpc.Client {
    let c = this.clients.get(addr);
    if (!c) this.clients.set(addr, (c = new grpc.Client(addr, grpc.credentials.createInsecure(), CHANNEL_OPTIONS)));
    return c;
  }

  private call<Req, Res>(addr: string, method: string, req: Req, enc: (m: Req) => Buffer, dec: (b: Buffer) => Res, deadline: number): Promise<Res> {
    const client = this.client(addr);
    const ready = client.getChannel().getConnectivityState(true) === grpc.connectivityState.READY;
    return new Promise((resolve, reject) => {
      // grpc-js captures the caller's stack on every call (`new Error()`, for the message of a
      // failed call): ~8 µs of the uplink's CPU per request in `make bench`. Our failures carry
      // their own message (TransportError), so the capture is switched off for the call's start.
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      try {
        client.makeUnaryRequest(`${SERVICE}/${method}`, enc, dec, req, new grpc.Metadata(), { deadline }, (err, res) => {
          if (!err) return resolve(res as Res);
          reject(toTransportError(err, ready));
        });
      } finally {
        Error.stackTraceLimit = limit;
      }
    });
  }

  async request(addr: string, session: Session, id: string, body: Buffer, deadline: number): Promise<WireReply> {
    const reply = await this.call(addr, 'Request', { session: sessionInfo(session), id, body }, encode(UplinkRequest), (b) => UplinkReply.decode(b), deadline);
    return { code: reply.code, body: Buffer.from(reply.body), msg: reply.msg };
  }

  async authorizeJoin(addr: string, session: Session, room: string, deadline: number): Promise<{ allowed: boolean; msg: string }> {
    const reply = await this.call(addr, 'AuthorizeJoin', { session: sessionInfo(session), room }, encode(JoinRequest), (b) => JoinReply.decode(b), deadline);
    return { allowed: reply.allowed, msg: reply.msg };
  }

  forget(addr: string): void {
    this.clients.get(addr)?.close();
    this.clients.delete(addr);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

function toTransportError(err: grpc.ServiceError, wasReady: boolean): TransportError {
  switch (err.code) {
    case grpc.status.DEADLINE_EXCEEDED:
      return new TransportError('deadline', err.details || 'deadline exceeded');
    case grpc.status.UNAVAILABLE:
      return new TransportError(wasReady ? 'unavailable' : 'not_sent', err.details || 'unavailable');
    default:
      return new TransportError('failed', `${grpc.status[err.code] ?? err.code}: ${err.details}`);
  }
}
