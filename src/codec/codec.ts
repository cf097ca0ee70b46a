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
  abstract decode(data: Buffer, isBinary: boolean): Frame;
}
