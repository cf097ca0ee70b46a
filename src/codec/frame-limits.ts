import type { Frame } from './frame';
import { FrameDecodeError } from './frame';

/**
 * Bounds on what a client may put in a frame, checked at the edge before any handler runs
 * (docs/protocol.md). The whole message is bounded by link.maxPayloadBytes (close 1009).
 */
export const FRAME_LIMITS = {
  /** `req.id` (answered by `ack {code: 400}` from the request handler) */
  reqId: 64,
  /** `ack-push.mid` */
  mid: 128,
  /** `token.token` */
  token: 16 * 1024,
  /** `resume.epoch` */
  epoch: 64,
  /** nesting of arrays and objects in a body */
  bodyDepth: 32,
} as const;

/** A client frame's problem with the limits above, or undefined. */
export function frameProblem(frame: Frame): string | undefined {
  switch (frame.type) {
    case 'ack-push':
      return !frame.mid || frame.mid.length > FRAME_LIMITS.mid ? `ack-push needs a mid of 1-${FRAME_LIMITS.mid} characters` : undefined;
    case 'token':
      return (frame.token ?? '').length > FRAME_LIMITS.token ? `token longer than ${FRAME_LIMITS.token} characters` : undefined;
    case 'resume':
      if ((frame.epoch ?? '').length > FRAME_LIMITS.epoch) return `resume epoch longer than ${FRAME_LIMITS.epoch} characters`;
      return frame.seq !== undefined && (frame.seq < 0 || !Number.isSafeInteger(frame.seq)) ? 'resume seq must be a whole number >= 0' : undefined;
    default:
      return undefined;
  }
}

/**
 * JSON.parse, refusing text nested deeper than `depth` arrays/objects first: a deep value would
 * overflow the stack of whatever walks it next (serialising an answer, validating), so it is
 * refused while it is still text. A linear scan, skipped for text too short to be that deep.
 */
export function parseBoundedJson(text: string, depth: number, what: string): unknown {
  if (text.length > 2 * depth) {
    let level = 0;
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inString) {
        if (c === 92 /* \ */) i++;
        else if (c === 34 /* " */) inString = false;
      } else if (c === 34) inString = true;
      else if (c === 91 /* [ */ || c === 123 /* { */) {
        if (++level > depth) throw new FrameDecodeError(`${what} nested deeper than ${depth - 1} levels`);
      } else if (c === 93 /* ] */ || c === 125 /* } */) level--;
    }
  }
  return JSON.parse(text);
}
