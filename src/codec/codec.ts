import type { Frame } from './frame';

export type CodecName = 'json' | 'protobuf';
export const CODEC_NAMES: readonly CodecName[] = ['json', 'protobuf'];

/**
 * Turns frames into WebSocket payloads and back.
 * Guarantee: encode(decode(x)) keeps every field of a valid frame; decode never returns a
 * frame whose fields have the wrong type, it throws FrameDecodeError instead.
 */
export abstract class Codec {
  abstract readonly name: CodecName;
  /** true if payloads go out as binary WebSocket messages */
  abstract readonly binary: boolean;
  abstract encode(frame: Frame): Buffer | string;
  /**
   * A push frame whose body the caller already serialised to JSON (the same bytes stored in
   * the mailbox), so a codec that can reuse them does not serialise the body again.
   */
  encodePush(frame: Extract<Frame, { type: 'push' }>, bodyJson?: string): Buffer | string {
    void bodyJson;
    return this.encode(frame);
  }
  abstract decode(data: Buffer, isBinary: boolean): Frame;
}
