import type { Codec, CodecName } from '../codec/codec';

/**
 * One complete, unmasked server-to-client WebSocket data frame (RFC 6455 section 5.2: FIN set,
 * opcode text or binary, no extension bits), header and payload in one buffer. A push is framed
 * once per codec and the same bytes are written to every link that gets it, one write each,
 * instead of ws framing it again per socket (a header allocation and a two-buffer writev).
 * Frames are written whole to the socket, so they interleave safely with ws's own control
 * frames (ping, close), which ws also writes whole; permessage-deflate is off.
 *
 * Why not ws's own `Sender.frame`: it returns the header and the payload as two buffers (for
 * ws's writev) and first copies a string payload into a buffer, so one shared buffer per push
 * would cost two allocations and two copies instead of one of each; it is also not part of
 * ws's typed API (@types/ws does not declare it). The spec checks our frames against ws's
 * own Receiver.
 */
export function wsFrame(payload: Buffer | string, binary: boolean): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x80 | (binary ? 0x2 : 0x1);
  if (header === 2) frame[1] = length;
  else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  if (typeof payload === 'string') frame.write(payload, header, 'utf8');
  else payload.copy(frame, header);
  return frame;
}

/**
 * One payload for many links: encoded and framed once per codec, on first use, so a push that
 * goes to thousands of links costs one encode per codec (Link.sendShared).
 */
export class SharedFrame {
  private readonly frames: Partial<Record<CodecName, Buffer>> = {};

  constructor(private readonly encode: (codec: Codec) => Buffer | string) {}

  for(codec: Codec): Buffer {
    return (this.frames[codec.name] ??= wsFrame(this.encode(codec), codec.binary));
  }
}
