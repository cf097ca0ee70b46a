import { gateway } from './generated/frames';
import { Codec } from './codec';
import { CASE_OF_TYPE, FRAME_TYPES, Frame, FrameCase, FrameDecodeError } from './frame';
import { FRAME_LIMITS, parseBoundedJson } from './frame-limits';

const FrameMessage = gateway.v1.Frame;
const EMPTY = Buffer.alloc(0);

/** Binary frames: one `gateway.v1.Frame` per WebSocket message; `body` carries UTF-8 JSON. */
export class ProtobufCodec extends Codec {
  readonly name = 'protobuf' as const;
  readonly binary = true;

  encode(frame: Frame): Buffer {
    return this.encodeFrame(frame);
  }

  /** the body bytes are the JSON the caller already has, rather than serialised again */
  override encodePush(frame: Extract<Frame, { type: 'push' }>, bodyJson?: string): Buffer {
    return this.encodeFrame(frame, bodyJson);
  }

  private encodeFrame(frame: Frame, bodyJson?: string): Buffer {
    const { type, ...rest } = frame as { type: string; body?: unknown } & Record<string, unknown>;
    const kind = CASE_OF_TYPE[type];
    const fields: Record<string, unknown> = { ...rest };
    if ('body' in rest) fields.body = rest.body === undefined ? EMPTY : Buffer.from(bodyJson ?? JSON.stringify(rest.body));
    const bytes = FrameMessage.encode({ [kind]: fields }).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  decode(data: Buffer): Frame {
    let message: gateway.v1.Frame;
    try {
      message = FrameMessage.decode(data);
    } catch (err) {
      throw new FrameDecodeError(`frame is not a valid protobuf Frame: ${(err as Error).message}`);
    }
    const kind = message.kind as FrameCase | undefined;
    if (!kind) throw new FrameDecodeError('protobuf Frame has no kind set');
    const inner = FrameMessage.toObject(message, { defaults: false, bytes: Buffer, longs: Number })[kind] as Record<string, unknown>;
    const { body, ...fields } = inner;
    const frame: Record<string, unknown> = { type: FRAME_TYPES[kind], ...fields };
    if (body instanceof Uint8Array && body.length > 0) {
      try {
        frame.body = parseBoundedJson(Buffer.from(body).toString('utf8'), FRAME_LIMITS.bodyDepth, 'frame body');
      } catch (err) {
        if (err instanceof FrameDecodeError) throw err;
        throw new FrameDecodeError('frame body is not UTF-8 JSON');
      }
    }
    return frame as Frame;
  }
}
