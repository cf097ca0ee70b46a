import { gateway } from './generated/frames';
import { Codec } from './codec';
import { CASE_OF_TYPE, Frame, FrameDecodeError } from './frame';
import { FRAME_LIMITS, parseBoundedJson } from './frame-limits';

const FrameMessage = gateway.v1.Frame;

/** JSON text frames: `{"type":"req","id":"1","body":{...}}`, fields checked against proto/. */
export class JsonCodec extends Codec {
  readonly name = 'json' as const;
  readonly binary = false;

  encode(frame: Frame): string {
    return JSON.stringify(frame);
  }

  /** the same text as encode(), with the body's JSON spliced in rather than serialised again */
  override encodePush(frame: Extract<Frame, { type: 'push' }>, bodyJson?: string): string {
    if (bodyJson === undefined) return this.encode(frame);
    let out = `{"type":"push","mid":${JSON.stringify(frame.mid)},"body":${bodyJson}`;
    if (frame.room !== undefined) out += `,"room":${JSON.stringify(frame.room)}`;
    if (frame.seq !== undefined) out += `,"seq":${frame.seq}`;
    if (frame.epoch !== undefined) out += `,"epoch":${JSON.stringify(frame.epoch)}`;
    return out + '}';
  }

  decode(data: Buffer): Frame {
    let value: unknown;
    try {
      // the frame object itself is one level above its body
      value = parseBoundedJson(data.toString('utf8'), FRAME_LIMITS.bodyDepth + 1, 'frame');
    } catch (err) {
      if (err instanceof FrameDecodeError) throw err;
      throw new FrameDecodeError('frame is not valid JSON');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new FrameDecodeError('frame must be a JSON object');
    }
    const { type, body, ...fields } = value as Record<string, unknown>;
    if (typeof type !== 'string') throw new FrameDecodeError('frame has no string "type"');
    const kind = CASE_OF_TYPE[type];
    if (!kind) throw new FrameDecodeError(`unknown frame type "${type.slice(0, 40)}"`);
    const problem = FrameMessage.verify({ [kind]: fields });
    if (problem) throw new FrameDecodeError(`bad "${type}" frame: ${problem.replace(`${kind}.`, '')}`);
    return (body === undefined ? { type, ...fields } : { type, ...fields, body }) as Frame;
  }
}
