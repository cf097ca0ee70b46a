import { gateway } from '../codec/generated/client-frames';
import { ClientFrame, ServerFrame, toServerFrame } from './frames';
import type { CodecName } from './types';

/** Turns client frames into WebSocket payloads and payloads into server frames (undefined: a frame type this client does not know). */
export interface ClientCodec {
  readonly name: CodecName;
  /** the subprotocol that selects it on the node */
  readonly protocol: string;
  encode(frame: ClientFrame): string | Uint8Array;
  decode(data: string | Uint8Array): ServerFrame | undefined;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

function asObject(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('frame is not a JSON object');
  return value as Record<string, unknown>;
}

export const jsonCodec: ClientCodec = {
  name: 'json',
  protocol: 'gateway.json',
  encode: (frame) => JSON.stringify(frame),
  decode: (data) => toServerFrame(asObject(JSON.parse(typeof data === 'string' ? data : utf8Decoder.decode(data)))),
};

/** `ack-push` <-> `ackPush`: the JSON type is the oneof case in kebab-case. */
const caseOf = (type: string) => type.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const typeOf = (kind: string) => kind.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export const protobufCodec: ClientCodec = {
  name: 'protobuf',
  protocol: 'gateway.protobuf',
  encode(frame) {
    const { type, ...fields } = frame as { type: string; body?: unknown } & Record<string, unknown>;
    if ('body' in fields) fields.body = fields.body === undefined ? new Uint8Array(0) : utf8Encoder.encode(JSON.stringify(fields.body));
    return gateway.v1.Frame.encode({ [caseOf(type)]: fields } as gateway.v1.IFrame).finish();
  },
  decode(data) {
    const bytes = typeof data === 'string' ? utf8Encoder.encode(data) : data;
    const message = gateway.v1.Frame.decode(bytes);
    const kind = message.kind;
    if (!kind) throw new Error('protobuf Frame has no kind set');
    const inner = message[kind] as unknown as Record<string, unknown>;
    const out: Record<string, unknown> = { type: typeOf(kind) };
    // decode sets only the fields present on the wire as own properties (defaults live on the prototype)
    for (const key of Object.keys(inner)) out[key] = numberOf(inner[key]);
    if (out.body instanceof Uint8Array) out.body = out.body.length > 0 ? JSON.parse(utf8Decoder.decode(out.body)) : undefined;
    return toServerFrame(out);
  },
};

/** protobufjs reads uint64 as a Long when long.js is installed (not in the bundles): make it a number. */
function numberOf(v: unknown): unknown {
  if (typeof v === 'object' && v !== null && typeof (v as { toNumber?: unknown }).toNumber === 'function') return (v as { toNumber(): number }).toNumber();
  return v;
}

export function codecFor(name: CodecName): ClientCodec {
  if (name === 'json') return jsonCodec;
  if (name === 'protobuf') return protobufCodec;
  throw new Error(`unknown codec "${String(name)}" (json or protobuf)`);
}
