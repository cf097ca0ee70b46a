/** The frames of docs/protocol.md as the client sees them, whatever the codec. */

export type ServerFrame =
  | { type: 'connected'; sid: string; node: string; heartbeatMs: number }
  | { type: 'ack'; id: string; code: number; body?: unknown; msg?: string }
  | { type: 'push'; mid: string; body?: unknown; room?: string; seq?: number; epoch?: string }
  | { type: 'resync'; reason: string; epoch: string; seq: number }
  | { type: 'redirect'; url: string; reason: string }
  | { type: 'pong'; ts?: number }
  | { type: 'error'; code: number; msg: string; ref?: string };

export type ClientFrame =
  | { type: 'req'; id: string; body?: unknown }
  | { type: 'ack-push'; mid: string }
  | { type: 'join'; room: string }
  | { type: 'leave'; room: string }
  | { type: 'ping'; ts?: number }
  | { type: 'token'; token: string }
  | { type: 'resume'; epoch?: string; seq?: number };

const str = (v: unknown): v is string => typeof v === 'string';
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const optStr = (v: unknown) => (str(v) ? v : undefined);
const optNum = (v: unknown) => (num(v) ? v : undefined);

/**
 * Checks a decoded object and returns the frame, or undefined for a type this client does not
 * know (a newer node). Throws on a known type with a missing or mistyped field. Protobuf leaves
 * zero values out, so numbers default to 0 and strings to '' where the proto says so.
 */
export function toServerFrame(o: Record<string, unknown>): ServerFrame | undefined {
  const bad = (field: string): never => {
    throw new Error(`bad "${String(o.type)}" frame: ${field}`);
  };
  switch (o.type) {
    case 'connected':
      return { type: 'connected', sid: optStr(o.sid) ?? bad('sid'), node: optStr(o.node) ?? '', heartbeatMs: optNum(o.heartbeatMs) ?? 0 };
    case 'ack': {
      const f: ServerFrame = { type: 'ack', id: optStr(o.id) ?? '', code: optNum(o.code) ?? 0 };
      if (o.body !== undefined) f.body = o.body;
      if (str(o.msg) && o.msg !== '') f.msg = o.msg;
      return f;
    }
    case 'push': {
      const f: ServerFrame = { type: 'push', mid: optStr(o.mid) ?? bad('mid') };
      if (o.body !== undefined) f.body = o.body;
      if (str(o.room) && o.room !== '') f.room = o.room;
      if (str(o.epoch) && o.epoch !== '') {
        f.epoch = o.epoch;
        f.seq = optNum(o.seq) ?? 0;
      }
      return f;
    }
    case 'resync':
      return { type: 'resync', reason: optStr(o.reason) ?? '', epoch: optStr(o.epoch) ?? '', seq: optNum(o.seq) ?? 0 };
    case 'redirect':
      return { type: 'redirect', url: optStr(o.url) ?? bad('url'), reason: optStr(o.reason) ?? '' };
    case 'pong':
      return { type: 'pong', ts: optNum(o.ts) };
    case 'error':
      return { type: 'error', code: optNum(o.code) ?? 0, msg: optStr(o.msg) ?? '', ref: optStr(o.ref) };
    default:
      return undefined;
  }
}
