import type { gateway } from './generated/frames';

type IFrame = gateway.v1.IFrame;

/** oneof case name (generated, camelCase) -> the `type` a JSON frame carries (kebab-case). */
export const FRAME_TYPES = {
  connected: 'connected',
  req: 'req',
  ack: 'ack',
  push: 'push',
  ackPush: 'ack-push',
  resume: 'resume',
  join: 'join',
  leave: 'leave',
  redirect: 'redirect',
  ping: 'ping',
  pong: 'pong',
  error: 'error',
  token: 'token',
  resync: 'resync',
} as const satisfies Record<keyof IFrame, string>;

export type FrameCase = keyof typeof FRAME_TYPES;
export type FrameType = (typeof FRAME_TYPES)[FrameCase];

type Fields<C extends FrameCase> = { [K in keyof NonNullable<IFrame[C]> as K extends 'body' ? never : K]-?: Exclude<NonNullable<IFrame[C]>[K], null> };
type FrameOf<C extends FrameCase> = { type: (typeof FRAME_TYPES)[C] } & Partial<Fields<C>> &
  ('body' extends keyof NonNullable<IFrame[C]> ? { body?: unknown } : unknown);

/** A frame as the gateway handles it, whatever the codec on the wire. */
export type Frame = { [C in FrameCase]: FrameOf<C> }[FrameCase];

export const CASE_OF_TYPE: Readonly<Record<string, FrameCase>> = Object.freeze(
  Object.fromEntries(Object.entries(FRAME_TYPES).map(([c, t]) => [t, c as FrameCase])),
);

/** Frame types a client may send; anything else is refused with an `error` frame. */
export const CLIENT_FRAME_TYPES: ReadonlySet<FrameType> = new Set<FrameType>(['req', 'ack-push', 'resume', 'join', 'leave', 'ping', 'pong', 'token']);

/** Thrown by a codec for input it cannot turn into a frame; the link answers with an `error` frame. */
export class FrameDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameDecodeError';
  }
}
