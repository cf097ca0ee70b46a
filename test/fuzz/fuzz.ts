/**
 * Fuzz tier: thousands of random and mutated inputs against one real cluster-mode node (shared
 * Redis/etcd/Kafka, isolation prefixes and topics of its own; no fault injected). Every input
 * must get its documented answer (docs/protocol.md, docs/push.md, README), the node must never
 * crash or restart, and a bystander link must get every push sent to it meanwhile, in order.
 * Prints counts per input class and per answer; exits 1 on a FAIL, listing input, observed and
 * expected. FUZZ_SEED=<n> replays a run; FUZZ_SCALE=<x> scales the counts.
 */
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import WebSocket from 'ws';
import { Kafka, logLevel } from 'kafkajs';
import { http } from '../fixtures/admin';
import { ADMIN_TOKEN, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import { hsToken, noneToken } from '../fixtures/tokens';
import { ProtobufCodec } from '../../src/codec/protobuf.codec';
import { gateway } from '../../src/codec/generated/frames';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const BROKERS = (process.env.FUZZ_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pb = new ProtobufCodec();

// --------------------------------------------------------------------------- seeded randomness
let state = SEED >>> 0 || 1;
function rnd(): number {
  // xorshift32
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 0x100000000;
}
const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const word = (n = int(1, 12), chars = ALNUM) => Array.from({ length: n }, () => chars[int(0, chars.length - 1)]).join('');
const unicode = (n: number) =>
  Array.from({ length: n }, () => {
    const r = rnd();
    if (r < 0.6) return String.fromCharCode(int(32, 126));
    if (r < 0.8) return String.fromCharCode(int(0, 31));
    if (r < 0.95) return String.fromCodePoint(int(0x80, 0xffff)).replace(/[\ud800-\udfff]/g, 'x');
    return String.fromCodePoint(int(0x10000, 0x10ffff));
  }).join('');
function randomValue(depth = 0): unknown {
  const r = rnd();
  if (depth > 3 || r < 0.15) return int(-1e9, 1e9);
  if (r < 0.3) return unicode(int(0, 20));
  if (r < 0.38) return rnd() < 0.5;
  if (r < 0.45) return null;
  if (r < 0.5) return pick([1e308, -0, 0.5, Number.MAX_SAFE_INTEGER + 2, -1]);
  if (r < 0.75) return Array.from({ length: int(0, 4) }, () => randomValue(depth + 1));
  return Object.fromEntries(Array.from({ length: int(0, 4) }, () => [word(), randomValue(depth + 1)]));
}
const wrongTypeFor = (v: unknown): unknown => {
  // null is left out: proto3's JSON mapping reads null as the field's default
  const options: unknown[] = [42, 1.5, true, [], {}, ['x'], { a: 1 }, 'x'.repeat(int(1, 300)), 'abc'];
  return pick(options.filter((o) => typeof o !== typeof v || Array.isArray(o) !== Array.isArray(v)));
};

// --------------------------------------------------------------------------- bookkeeping
type Tally = Record<string, Record<string, number>>;
const tally: Tally = {};
const failures: { cls: string; input: string; observed: string; expected: string }[] = [];
function record(cls: string, answer: string, ok: boolean, input: () => string, expected: string) {
  (tally[cls] ??= {})[answer] = (tally[cls][answer] ?? 0) + 1;
  if (!ok) failures.push({ cls, input: input().slice(0, 300), observed: answer, expected });
}
const show = (v: unknown) => {
  if (Buffer.isBuffer(v)) return `binary ${v.length} B: ${v.subarray(0, 48).toString('hex')}${v.length > 48 ? '...' : ''}`;
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 240 ? `${s.slice(0, 240)}... (${s.length} chars)` : s;
};

// --------------------------------------------------------------------------- a fuzzed link
type AnyFrame = { type: string; [k: string]: any };

/** A link whose every input is followed by a ping marker: what arrives before its pong answers the input. */
class FuzzLink {
  private frames: AnyFrame[] = [];
  private wake?: () => void;
  closed?: { code: number; reason: string };
  private marker = 1_000_000_000;
  ws!: WebSocket;
  constructor(
    private readonly url: string,
    private readonly codec: 'json' | 'protobuf',
    private readonly user: string,
  ) {}

  async open() {
    this.frames = [];
    this.closed = undefined;
    const ws = new WebSocket(this.url, this.codec === 'protobuf' ? ['gateway.protobuf'] : [], {
      headers: { Authorization: `Bearer ${hsToken({ sub: this.user, biz: 'fz', expiresInSec: 3600 })}` },
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
    });
    this.ws = ws;
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      let f: AnyFrame;
      try {
        f = isBinary ? (pb.decode(data) as AnyFrame) : JSON.parse(data.toString('utf8'));
      } catch {
        f = { type: `undecodable(${isBinary ? 'binary' : 'text'})` };
      }
      if (isBinary !== (this.codec === 'protobuf')) f = { ...f, type: `${f.type}[wrong-opcode]` };
      this.frames.push(f);
      this.wake?.();
    });
    ws.once('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake?.();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const first = await this.take(5000);
    if (first[0]?.type !== 'connected') throw new Error(`fuzz link: first frame ${JSON.stringify(first[0])}`);
  }

  private async take(timeoutMs: number, until?: (f: AnyFrame) => boolean): Promise<AnyFrame[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = until ? this.frames.findIndex(until) : this.frames.length ? 0 : -1;
      if (i >= 0) return this.frames.splice(0, i + 1);
      if (this.closed || Date.now() > deadline) return this.frames.splice(0);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, Math.max(1, deadline - Date.now()));
      });
      this.wake = undefined;
    }
  }

  /** Sends `data` (as is), then a ping marker; returns the frames that came before the marker's pong, or the close. */
  async exchange(data: string | Buffer, binary: boolean): Promise<{ frames: AnyFrame[]; closed?: { code: number; reason: string } }> {
    if (this.closed) await this.open();
    const ts = ++this.marker;
    this.ws.send(data, { binary });
    const ping = { type: 'ping', ts };
    if (this.codec === 'protobuf') this.ws.send(pb.encode(ping as never), { binary: true });
    else this.ws.send(JSON.stringify(ping));
    const got = await this.take(8000, (f) => f.type === 'pong' && Number(f.ts) === ts);
    const isMarker = (f: AnyFrame) => f.type === 'pong' && Number(f.ts) === ts;
    const frames = got.filter((f) => !isMarker(f) && f.type !== 'push');
    if (!got.some(isMarker)) {
      if (!this.closed) await sleep(300);
      if (this.closed) return { frames, closed: this.closed };
      return { frames: [...frames, { type: 'no-marker-pong' }] };
    }
    return { frames };
  }

  close() {
    this.ws.terminate();
  }
}

const describe = (r: { frames: AnyFrame[]; closed?: { code: number } }) => {
  const parts = r.frames.map((f) => {
    if (f.type === 'error') return `error:${f.code}`;
    if (f.type === 'ack') return `ack:${f.code}`;
    return f.type;
  });
  if (r.closed) parts.push(`close:${r.closed.code}`);
  return parts.length ? parts.join('+') : 'none';
};

// --------------------------------------------------------------------------- frame generators
type Gen = { cls: string; make: () => { data: string | Buffer; binary: boolean }; expect: (a: string) => boolean; expected: string; weight: number };

const room = () => (rnd() < 0.9 ? `r-${word(int(1, 20))}` : pick(['', ' ', 'a b', 'x'.repeat(300), '../etc', 'é', 'a/b', '\u0000']));
const validFrames = (): { frame: AnyFrame; answer: string[] }[] => {
  const r = room();
  const goodRoom = /^r-[A-Za-z0-9]+$/.test(r);
  return [
    { frame: { type: 'ping', ts: int(1, 1e6) }, answer: ['pong'] },
    { frame: { type: 'req', id: word(int(1, 64)), body: randomValue() }, answer: ['ack:0'] },
    { frame: { type: 'req', body: randomValue() }, answer: ['ack:400'] },
    { frame: { type: 'req', id: word(65), body: 1 }, answer: ['ack:400'] },
    { frame: { type: 'join', room: r }, answer: goodRoom ? ['ack:0'] : ['ack:400'] },
    { frame: { type: 'leave', room: r }, answer: goodRoom ? ['ack:0'] : ['ack:400'] },
    { frame: { type: 'ack-push', mid: word(int(1, 128)) }, answer: ['none'] },
    { frame: { type: 'ack-push', mid: word(129) }, answer: ['error:400'] },
    { frame: { type: 'resume' }, answer: ['none'] },
    { frame: { type: 'resume', epoch: word(10), seq: int(0, 1000) }, answer: ['none', 'resync'] },
    { frame: { type: 'resume', epoch: word(65), seq: 1 }, answer: ['error:400'] },
  ];
};
const SERVER_ONLY: AnyFrame[] = [
  { type: 'connected', sid: 'x', node: 'n', heartbeatMs: 1 },
  { type: 'ack', id: '1', code: 0 },
  { type: 'push', mid: 'm', body: 1, seq: 1, epoch: 'e' },
  { type: 'redirect', url: 'ws://x', reason: 'r' },
  { type: 'error', code: 400, msg: 'x' },
  { type: 'resync', reason: 'gap_too_old', epoch: 'e', seq: 1 },
];
const CLIENT_FIELDS: Record<string, Record<string, unknown>> = {
  req: { id: '1', body: {} },
  'ack-push': { mid: 'm' },
  resume: { epoch: 'e', seq: 1 },
  join: { room: 'r' },
  leave: { room: 'r' },
  ping: { ts: 1 },
  token: { token: 'x' },
};

function jsonGens(): Gen[] {
  return [
    {
      cls: 'json/garbage-text',
      weight: 3,
      make: () => ({ data: rnd() < 0.5 ? unicode(int(1, 200)) : `{${unicode(int(0, 50))}`, binary: false }),
      expect: (a) => a === 'error:400',
      expected: 'error:400',
    },
    {
      cls: 'json/not-an-object',
      weight: 1,
      make: () => ({ data: JSON.stringify(pick([1, 'x', null, true, [], [1, { type: 'ping' }], 1.5])), binary: false }),
      expect: (a) => a === 'error:400',
      expected: 'error:400',
    },
    {
      cls: 'json/unknown-or-bad-type',
      weight: 2,
      make: () => ({
        data: JSON.stringify({
          type: pick([word(), '', 42, null, ['ping'], { a: 1 }, 'PING', 'ackPush', 'ack_push']) as unknown,
          ...(randomValue() as object),
        }),
        binary: false,
      }),
      expect: (a) => a === 'error:400',
      expected: 'error:400',
    },
    {
      cls: 'json/server-only-type',
      weight: 1,
      make: () => ({ data: JSON.stringify(pick(SERVER_ONLY)), binary: false }),
      expect: (a) => a === 'error:400',
      expected: 'error:400 (not a client frame)',
    },
    {
      // docs/protocol.md lists pong as a server frame; the node takes it from clients (CLIENT_FRAME_TYPES) and says nothing
      cls: 'json/pong-from-client-undocumented',
      weight: 0.2,
      make: () => ({ data: JSON.stringify({ type: 'pong', ts: int(1, 1000) }), binary: false }),
      expect: (a) => a === 'none' || a === 'error:400',
      expected: 'nothing, or error:400',
    },
    {
      cls: 'json/wrong-field-types',
      weight: 4,
      make: () => {
        const type = pick(Object.keys(CLIENT_FIELDS).filter((t) => t !== 'token'));
        const fields = { ...CLIENT_FIELDS[type] };
        const key = pick(Object.keys(fields).filter((k) => k !== 'body'));
        fields[key] = wrongTypeFor(fields[key]);
        return { data: JSON.stringify({ type, ...fields }), binary: false };
      },
      // a wrong type is refused at decode (error 400); a value of the right JSON kind but out of
      // bounds is refused by its handler (ack 400 for req/join/leave)
      expect: (a) => ['error:400', 'ack:400'].includes(a),
      expected: 'error:400 (or ack:400 from req/join/leave)',
    },
    {
      cls: 'json/valid',
      weight: 4,
      make: () => {
        const v = pick(validFrames());
        (currentExpect as any).value = v.answer;
        return { data: JSON.stringify(v.frame), binary: false };
      },
      expect: (a) => ((currentExpect as any).value as string[]).includes(a),
      expected: "the frame kind's documented answer",
    },
    {
      cls: 'json/deep-nesting',
      weight: 1,
      make: () => {
        const d = pick([32, 33, 40, 100, 1000, 100000]);
        // written as text: JSON.stringify itself cannot serialise the deepest ones
        const body = rnd() < 0.5 ? `${'['.repeat(d)}1${']'.repeat(d)}` : `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`;
        const data = `{"type":"req","id":"deep","body":${body}}`;
        currentExpect.value = [Buffer.byteLength(data) > 524288 ? 'close:1009' : d <= 32 ? 'ack:0' : 'error:400'];
        return { data, binary: false };
      },
      expect: (a) => (currentExpect.value ?? []).includes(a),
      expected: 'ack:0 up to 32 levels, error:400 deeper (src/codec/frame-limits.ts; docs/protocol.md does not state the bound), close:1009 over 512 KiB',
    },
    {
      cls: 'json/huge-field-under-limit',
      weight: 0.3,
      make: () => {
        const big = 'x'.repeat(int(20000, 500000));
        const [frame, answer] = pick([
          [{ type: 'req', id: big, body: 1 }, 'ack:400'],
          [{ type: 'ack-push', mid: big }, 'error:400'],
          [{ type: 'join', room: big }, 'ack:400'],
          [{ type: 'leave', room: big }, 'ack:400'],
          [{ type: 'token', token: big }, 'error:400'],
          [{ type: 'resume', epoch: big, seq: 1 }, 'error:400'],
        ] as [AnyFrame, string][]);
        currentExpect.value = [answer];
        return { data: JSON.stringify(frame), binary: false };
      },
      expect: (a) => (currentExpect.value ?? []).includes(a),
      expected: 'error:400 (ack-push/token/resume over their bounds) or ack:400 (req id, room)',
    },
    {
      cls: 'json/over-max-payload',
      weight: 0.05,
      make: () => ({ data: JSON.stringify({ type: 'req', id: '1', body: 'x'.repeat(int(524288, 600000)) }), binary: false }),
      expect: (a) => a === 'close:1009',
      expected: 'close:1009',
    },
    {
      cls: 'json/binary-random',
      weight: 0.5,
      make: () => ({ data: bytes(int(1, 100)), binary: true }),
      expect: (a) => a === 'error:400',
      expected: 'error:400',
    },
    {
      // not documented either way: the node reads a binary message on a JSON link as JSON text
      cls: 'json/binary-json-undocumented',
      weight: 0.3,
      make: () => ({ data: Buffer.from(JSON.stringify({ type: 'ping', ts: 5 })), binary: true }),
      expect: (a) => a === 'error:400' || a === 'pong',
      expected: 'error:400 or pong',
    },
    {
      cls: 'json/bad-token-frame',
      weight: 0.1,
      make: () => ({
        data: JSON.stringify({
          type: 'token',
          token: pick([
            word(40),
            hsToken({ sub: 'someone-else', biz: 'fz' }),
            hsToken({ sub: 'fz-json', biz: 'fz' }, 'wrong-secret-0123456789'),
            noneToken({ sub: 'fz-json', biz: 'fz' }),
          ]),
        }),
        binary: false,
      }),
      expect: (a) => a === 'close:4002',
      expected: 'close:4002 (token frame rejected)',
    },
  ];
}
const currentExpect: { value?: string[] } = {};

function pbGens(): Gen[] {
  const enc = (f: AnyFrame) => Buffer.from(pb.encode(f as never) as Uint8Array);
  return [
    {
      cls: 'pb/random-bytes',
      weight: 3,
      make: () => ({ data: bytes(int(1, 200)), binary: true }),
      // random bytes may decode as some frame: any documented answer, the link stays open
      expect: (a) => /^(error:(400|405)|ack:\d+|pong|none|resync|close:4002|ack:0\+.*)$/.test(a),
      expected: 'error:400, or the answer of whatever frame the bytes decode to (close 4002 for a token frame); link open otherwise',
    },
    {
      cls: 'pb/mutated-valid',
      weight: 3,
      make: () => {
        const b = enc(pick(validFrames()).frame);
        for (let i = 0, n = int(1, 4); i < n; i++) b[int(0, b.length - 1)] = int(0, 255);
        return { data: b, binary: true };
      },
      expect: (a) => /^(error:(400|405)|ack:\d+|pong|none|resync|close:4002)$/.test(a),
      expected: 'error:400, or the answer of whatever frame the bytes decode to (close 4002 for a token frame); link open otherwise',
    },
    {
      cls: 'pb/valid',
      weight: 3,
      make: () => {
        const v = pick(validFrames());
        currentExpect.value = v.answer;
        return { data: enc(v.frame), binary: true };
      },
      expect: (a) => (currentExpect.value ?? []).includes(a),
      expected: "the frame kind's documented answer",
    },
    {
      cls: 'pb/server-only-type',
      weight: 1,
      make: () => ({ data: enc(pick(SERVER_ONLY)), binary: true }),
      expect: (a) => a === 'error:400',
      expected: 'error:400 (not a client frame)',
    },
    {
      cls: 'pb/empty-frame',
      weight: 0.3,
      make: () => ({ data: Buffer.alloc(0), binary: true }),
      expect: (a) => a === 'error:400',
      expected: 'error:400',
    },
    {
      cls: 'pb/bad-body-json',
      weight: 1,
      make: () => ({
        data: Buffer.from(gateway.v1.Frame.encode({ req: { id: 'b', body: rnd() < 0.5 ? bytes(int(1, 50)) : Buffer.from('{"a":') } }).finish()),
        binary: true,
      }),
      expect: (a) => ['error:400', 'ack:400'].includes(a),
      expected: 'error:400 (body is not UTF-8 JSON)',
    },
    {
      cls: 'pb/text-message',
      weight: 1,
      make: () => ({ data: JSON.stringify({ type: 'ping', ts: 1 }), binary: false }),
      expect: (a) => a === 'error:400',
      expected: 'error:400 (a protobuf link takes binary messages)',
    },
  ];
}

async function fuzzFrames(node: GatewayProcess, codec: 'json' | 'protobuf', total: number) {
  const link = new FuzzLink(node.wsUrl, codec, `fz-${codec}`);
  await link.open();
  const gens = codec === 'json' ? jsonGens() : pbGens();
  const weights = gens.reduce((a, g) => a + g.weight, 0);
  for (let i = 0; i < total; i++) {
    let x = rnd() * weights;
    const g = gens.find((gg) => (x -= gg.weight) < 0) ?? gens[0];
    currentExpect.value = undefined;
    const input = g.make();
    const r = await link.exchange(input.data, input.binary);
    const a = describe(r);
    record(g.cls, a, g.expect(a), () => show(input.data), g.expected);
  }
  link.close();
}

// --------------------------------------------------------------------------- raw TCP protocol violations
function frameBytes(opts: { fin?: boolean; rsv?: number; opcode: number; mask?: boolean; payload?: Buffer; lengthOverride?: bigint }): Buffer {
  const payload = opts.payload ?? Buffer.alloc(0);
  const mask = opts.mask ?? true;
  const b0 = ((opts.fin ?? true) ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | opts.opcode;
  const len = opts.lengthOverride ?? BigInt(payload.length);
  let head: Buffer;
  if (len < 126n) head = Buffer.from([b0, (mask ? 0x80 : 0) | Number(len)]);
  else if (len < 65536n) {
    head = Buffer.alloc(4);
    head[0] = b0;
    head[1] = (mask ? 0x80 : 0) | 126;
    head.writeUInt16BE(Number(len), 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0;
    head[1] = (mask ? 0x80 : 0) | 127;
    head.writeBigUInt64BE(len, 2);
  }
  if (!mask) return Buffer.concat([head, payload]);
  const key = bytes(4);
  const masked = Buffer.from(payload.map((v, i) => v ^ key[i % 4]));
  return Buffer.concat([head, key, masked]);
}

const INVALID_UTF8 = [
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xff, 0xfe, 0x41]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
  Buffer.from('{"type":"ping","ts":1}\xc0', 'latin1'),
];
const closePayload = (code: number, reason: Buffer = Buffer.alloc(0)) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, reason]);
};

const VIOLATIONS: { cls: string; make: () => Buffer; expect: number[] }[] = [
  { cls: 'raw/bad-opcode', make: () => frameBytes({ opcode: pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), payload: bytes(int(0, 20)) }), expect: [1002] },
  { cls: 'raw/unmasked-client-frame', make: () => frameBytes({ opcode: 1, mask: false, payload: Buffer.from('{"type":"ping","ts":1}') }), expect: [1002] },
  {
    cls: 'raw/reserved-bits',
    make: () => frameBytes({ opcode: pick([1, 2, 9]), rsv: int(1, 7), payload: Buffer.from('{"type":"ping","ts":1}') }),
    expect: [1002],
  },
  {
    cls: 'raw/oversize-length',
    make: () => frameBytes({ opcode: pick([1, 2]), lengthOverride: pick([524289n, 1n << 32n, 1n << 40n, (1n << 53n) - 1n]) }),
    expect: [1009],
  },
  { cls: 'raw/length-msb-set', make: () => frameBytes({ opcode: 2, lengthOverride: 1n << 63n }), expect: [1002, 1009] },
  { cls: 'raw/fragmented-control', make: () => frameBytes({ opcode: pick([8, 9, 10]), fin: false, payload: Buffer.from('x') }), expect: [1002] },
  { cls: 'raw/control-over-125', make: () => frameBytes({ opcode: pick([9, 10]), payload: bytes(int(126, 300)) }), expect: [1002] },
  { cls: 'raw/continuation-without-start', make: () => frameBytes({ opcode: 0, payload: Buffer.from('abc') }), expect: [1002] },
  {
    cls: 'raw/new-message-inside-fragmented',
    make: () =>
      Buffer.concat([frameBytes({ opcode: 1, fin: false, payload: Buffer.from('{"ty') }), frameBytes({ opcode: pick([1, 2]), payload: Buffer.from('x') })]),
    expect: [1002],
  },
  { cls: 'raw/invalid-utf8-text', make: () => frameBytes({ opcode: 1, payload: pick(INVALID_UTF8) }), expect: [1007] },
  {
    cls: 'raw/invalid-utf8-fragmented-text',
    make: () =>
      Buffer.concat([frameBytes({ opcode: 1, fin: false, payload: Buffer.from('{"type":') }), frameBytes({ opcode: 0, payload: pick(INVALID_UTF8) })]),
    expect: [1007],
  },
  {
    cls: 'raw/close-invalid-code',
    make: () => frameBytes({ opcode: 8, payload: closePayload(pick([0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535])) }),
    expect: [1002],
  },
  { cls: 'raw/close-1-byte-payload', make: () => frameBytes({ opcode: 8, payload: Buffer.from([3]) }), expect: [1002] },
  { cls: 'raw/close-invalid-utf8-reason', make: () => frameBytes({ opcode: 8, payload: closePayload(1000, pick(INVALID_UTF8)) }), expect: [1007] },
];

/** A real handshake on a raw socket, then `violation`; resolves with the close code the server sent (or what happened instead). */
function rawViolation(node: GatewayProcess, violation: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(node.port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let upgraded = false;
    let sawConnected = false;
    let done = false;
    const finish = (what: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(what);
    };
    const timer = setTimeout(() => finish(upgraded ? (sawConnected ? 'no-close-within-5s' : 'no-connected') : 'no-upgrade'), 5000);
    sock.on('error', () => finish(upgraded ? 'socket-error-without-close' : 'connect-error'));
    sock.on('close', () => finish(upgraded ? 'socket-closed-without-close-frame' : 'closed-before-upgrade'));
    sock.on('connect', () => {
      const key = crypto.randomBytes(16).toString('base64');
      sock.write(
        `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${node.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${hsToken({ sub: 'fz-raw', biz: 'fz' })}\r\n\r\n`,
      );
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        if (!head.startsWith('HTTP/1.1 101')) return finish(`upgrade-refused ${head.split('\r\n')[0]}`);
        upgraded = true;
        buf = buf.subarray(end + 4);
      }
      // server frames (unmasked)
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0] & 0x0f;
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) return;
        const payload = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        if (opcode === 8) return finish(payload.length >= 2 ? `close:${payload.readUInt16BE(0)}` : 'close:no-code');
        if (opcode === 1 && !sawConnected) {
          sawConnected = true;
          sock.write(violation);
        }
      }
    });
  });
}

async function fuzzRaw(node: GatewayProcess, total: number) {
  for (let i = 0; i < total; i++) {
    const v = pick(VIOLATIONS);
    const data = v.make();
    const a = await rawViolation(node, data);
    record(
      v.cls,
      a,
      v.expect.some((c) => a === `close:${c}`),
      () => show(data),
      v.expect.map((c) => `close:${c}`).join(' or '),
    );
  }
}

// --------------------------------------------------------------------------- upgrades with random tokens
function randomToken(): { token: string; kind: string } {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const kinds: [string, () => string][] = [
    ['garbage', () => word(int(1, 300), ALNUM + '-_.')],
    ['three-random-parts', () => `${word(int(1, 60), ALNUM + '-_')}.${word(int(1, 60), ALNUM + '-_')}.${word(int(0, 60), ALNUM + '-_')}`],
    ['json-parts-bad-signature', () => `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'u', biz: 'fz', exp: now + 60 })}.${word(43, ALNUM + '-_')}`],
    ['wrong-secret', () => hsToken({ sub: 'u', biz: 'fz' }, `wrong-${word(20)}`)],
    ['alg-none', () => noneToken({ sub: 'u', biz: 'fz' })],
    ['expired', () => hsToken({ sub: 'u', biz: 'fz', expiresInSec: -int(60, 100000) })],
    ['no-exp', () => hsToken({ sub: 'u', biz: 'fz', expiresInSec: null })],
    ['not-yet-valid', () => hsToken({ sub: 'u', biz: 'fz', nbf: now + 3600 })],
    ['missing-sub', () => hsToken({ biz: 'fz' })],
    ['missing-biz', () => hsToken({ sub: 'u' })],
    [
      'claims-wrong-types',
      () => hsToken({ sub: wrongTypeFor('u') as never, biz: wrongTypeFor('fz') as never, did: pick([1, {}, 'a b', 'x'.repeat(300)]) as never }),
    ],
    ['payload-not-json', () => `${b64({ alg: 'HS256' })}.${Buffer.from(unicode(20)).toString('base64url')}.${word(43, ALNUM)}`],
    ['hs512', () => require('jsonwebtoken').sign({ sub: 'u', biz: 'fz', exp: now + 60 }, 'e2e-jwt-secret-0123456789abcdef', { algorithm: 'HS512' })],
    ['empty', () => ''],
  ];
  const [kind, make] = pick(kinds);
  return { kind, token: make() };
}

function upgradeWith(
  node: GatewayProcess,
  token: string,
  via: 'header' | 'query' | 'protocol',
): Promise<{ status: number; body: string; contentType?: string }> {
  return new Promise((resolve) => {
    const key = crypto.randomBytes(16).toString('base64');
    const path = via === 'query' ? `/ws?token=${encodeURIComponent(token)}` : '/ws';
    const headers: string[] = [
      `Host: 127.0.0.1:${node.port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`,
      'Sec-WebSocket-Version: 13',
    ];
    if (via === 'header') headers.push(`Authorization: Bearer ${token}`);
    if (via === 'protocol') headers.push(`Sec-WebSocket-Protocol: gateway.json, bearer.${token}`);
    const sock = net.connect(node.port, '127.0.0.1', () => sock.write(`GET ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`));
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(), 5000);
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      const text = buf.toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0);
      const ct = /content-type:\s*([^\r\n]+)/i.exec(head)?.[1];
      resolve({ status, body: rest.join('\r\n\r\n'), contentType: ct });
    };
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.toString('latin1').startsWith('HTTP/1.1 101')) done();
    });
    sock.on('end', done);
    sock.on('close', done);
    sock.on('error', done);
  });
}

async function fuzzTokens(node: GatewayProcess, total: number) {
  for (let i = 0; i < total; i++) {
    const { token, kind } = randomToken();
    const via = pick(['header', 'query', 'protocol'] as const);
    if (via === 'protocol' && !/^[A-Za-z0-9._~-]*$/.test(token)) continue;
    const r = await upgradeWith(node, token, via);
    let body: any;
    try {
      body = JSON.parse(r.body);
    } catch {
      body = undefined;
    }
    const ok = r.status === 401 && body?.error === 'unauthorized' && typeof body?.message === 'string';
    record(
      `upgrade/token-${kind}`,
      `${r.status}${body ? ` ${body.error}` : ' (no JSON body)'}`,
      ok,
      () => `token via ${via}: ${show(token)}`,
      '401 {"error":"unauthorized","message":...}',
    );
  }
}

// --------------------------------------------------------------------------- POST /api/push
function validEnvelope(): Record<string, unknown> {
  const to = pick([{ users: Array.from({ length: int(1, 3) }, () => `fz-p-${word(6)}`) }, { room: `fzr-${word(6)}` }, { links: [word(10)] }]);
  const e: Record<string, unknown> = { bizId: 'fz', to, body: randomValue() };
  if (e.body === undefined) e.body = 1;
  if (rnd() < 0.5) e.mid = `fz-${word(int(1, 40), ALNUM + '_.@:+-')}`;
  if (rnd() < 0.3) e.ttlSec = int(1, 3600);
  if (rnd() < 0.3 && 'users' in to) e.persist = rnd() < 0.5;
  return e;
}
type Mutation = [string, (e: Record<string, unknown>) => void, string];
const MUTATIONS: Mutation[] = [
  ['no-bizId', (e) => delete e.bizId, 'bizId'],
  ['bizId-wrong-type', (e) => (e.bizId = wrongTypeFor('x')), 'bizId'],
  ['unknown-biz', (e) => (e.bizId = `zz-${word(5)}`), 'bizId'],
  ['no-to', (e) => delete e.to, 'to'],
  ['to-wrong-type', (e) => (e.to = wrongTypeFor({})), 'to'],
  ['to-two-targets', (e) => (e.to = { users: ['a'], room: 'r' }), 'to'],
  ['to-empty', (e) => (e.to = {}), 'to'],
  ['users-empty', (e) => (e.to = { users: [] }), 'to.users'],
  ['users-too-many', (e) => (e.to = { users: Array.from({ length: 1001 }, (_, i) => `u${i}`) }), 'to.users'],
  ['users-wrong-type', (e) => (e.to = { users: wrongTypeFor([]) }), 'to.users'],
  ['user-element-wrong-type', (e) => (e.to = { users: [wrongTypeFor('u')] }), 'to.users'],
  ['no-body', (e) => delete e.body, 'body'],
  ['mid-bad-chars', (e) => (e.mid = `${word(3)} ${pick(['/', '#', '!', 'é', '\n'])}`), 'mid'],
  ['mid-too-long', (e) => (e.mid = 'm'.repeat(129)), 'mid'],
  ['mid-empty', (e) => (e.mid = ''), 'mid'],
  ['mid-wrong-type', (e) => (e.mid = wrongTypeFor('m')), 'mid'],
  ['ttl-negative', (e) => (e.ttlSec = -int(1, 100)), 'ttlSec'],
  ['ttl-wrong-type', (e) => (e.ttlSec = wrongTypeFor(1)), 'ttlSec'],
  ['persist-wrong-type', (e) => (e.persist = wrongTypeFor(true)), 'persist'],
  ['op-unknown', (e) => (e.op = word(5)), 'op'],
  ['op-join-no-room', (e) => ((e.op = 'join'), (e.to = { users: ['a'] }), delete e.room), 'room'],
  ['unknown-field', (e) => (e[`x${word(4)}`] = 1), ''],
];

async function fuzzApiPush(node: GatewayProcess, total: number) {
  const api = (body: unknown) =>
    http(`${node.adminUrl}/api/push`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  const namesField = (r: { body: any }, field: string) =>
    r.body?.error === 'bad_request' &&
    Array.isArray(r.body.problems) &&
    r.body.problems.length > 0 &&
    r.body.problems.every((p: any) => typeof p.field === 'string' && p.field.length > 0) &&
    (field === '' ||
      r.body.problems.some((p: any) => p.field === field || p.field.endsWith(`.${field}`) || p.field.startsWith(field) || p.field.includes(field)));
  for (let i = 0; i < total; i++) {
    const r0 = rnd();
    if (r0 < 0.25) {
      const e = validEnvelope();
      const r = await api(e);
      record('api-push/valid', String(r.status), r.status === 202, () => show(e), '202');
    } else if (r0 < 0.85) {
      const e = validEnvelope();
      const [name, mutate, field] = pick(MUTATIONS);
      mutate(e);
      const r = await api(e);
      const extraKey = Object.keys(e).find((kk) => /^x[A-Za-z0-9]{4}$/.test(kk)) ?? '';
      const ok =
        name === 'unknown-field'
          ? r.status === 202 || (r.status === 400 && namesField(r, '') && String(r.body?.message).includes(extraKey))
          : r.status === 400 && namesField(r, field);
      record(
        `api-push/${name}`,
        `${r.status}${r.status === 400 ? ` fields=${(r.body?.problems ?? []).map((p: any) => p.field).join(',')}` : ''}`,
        ok,
        () => show(e),
        name === 'unknown-field' ? '202, or 400 naming the field' : `400 naming ${field}`,
      );
    } else if (r0 < 0.95) {
      // a batch with one bad envelope among good ones: all are refused, the bad one named by index
      const batch = Array.from({ length: int(2, 5) }, validEnvelope);
      const bad = int(0, batch.length - 1);
      const [, mutate, field] = pick(MUTATIONS.filter((m) => !['unknown-field', 'unknown-biz'].includes(m[0])));
      mutate(batch[bad]);
      const r = await api(batch);
      const ok = r.status === 400 && namesField(r, '') && r.body.problems.some((p: any) => p.field === String(bad) || p.field.startsWith(`${bad}.`));
      record('api-push/batch-one-bad', `${r.status}`, ok, () => show(batch), `400 naming ${bad}.${field}`);
    } else {
      const v = pick([1, 'x', null, [], true, randomValue()]);
      const r = await api(v);
      record('api-push/not-an-envelope', `${r.status}`, r.status === 400 && r.body?.error === 'bad_request', () => show(v), '400 bad_request');
    }
  }
}

// --------------------------------------------------------------------------- Kafka envelopes and the DLQ
async function fuzzKafka(node: GatewayProcess, topic: string, dlqTopic: string, total: number) {
  const kafka = new Kafka({ brokers: BROKERS, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const sent = new Map<string, { cls: string; expect: string[]; input: string }>();
  for (let i = 0; i < total; i++) {
    const r0 = rnd();
    let value: Buffer | string;
    let headers: Record<string, string> = {};
    let cls: string;
    let expect: string[];
    if (r0 < 0.2) {
      value = JSON.stringify(validEnvelope());
      cls = 'kafka/valid';
      expect = ['delivered'];
    } else if (r0 < 0.35) {
      value = rnd() < 0.5 ? unicode(int(1, 100)) : `{"bizId":"fz","to":${word(3)}`;
      cls = 'kafka/not-json';
      expect = ['malformed'];
    } else if (r0 < 0.6) {
      const e = validEnvelope();
      const [name, mutate] = pick(MUTATIONS.filter((m) => !['unknown-field', 'unknown-biz'].includes(m[0])));
      mutate(e);
      value = JSON.stringify(e);
      cls = `kafka/invalid-${name}`;
      // 1001 users are also over push.maxEnvelopeBytes (4096 here), which is checked first
      expect = name === 'users-too-many' ? ['too_large'] : ['invalid'];
    } else if (r0 < 0.7) {
      value = JSON.stringify({ ...validEnvelope(), bizId: `zz-${word(4)}` });
      cls = 'kafka/unknown-biz';
      expect = ['unknown_biz'];
    } else if (r0 < 0.78) {
      value = JSON.stringify({ ...validEnvelope(), body: 'x'.repeat(int(5000, 20000)) });
      cls = 'kafka/too-large';
      expect = ['too_large'];
    } else if (r0 < 0.88) {
      value = bytes(int(1, 200));
      headers = { 'content-type': 'application/x-protobuf' };
      cls = 'kafka/protobuf-random-bytes';
      // random bytes can decode to an (invalid) envelope: malformed or invalid
      expect = ['malformed', 'invalid', 'unknown_biz'];
    } else if (r0 < 0.95) {
      value = Buffer.from(
        gateway.v1.PushEnvelope.encode({ bizId: 'fz', to: { users: [`fz-k-${word(5)}`] }, body: Buffer.from(JSON.stringify(randomValue())) }).finish(),
      );
      headers = { 'content-type': 'application/x-protobuf' };
      cls = 'kafka/protobuf-valid';
      expect = ['delivered'];
    } else {
      value = JSON.stringify(validEnvelope());
      headers = { 'content-type': pick(['text/plain', 'application/xml', word(8)]) };
      cls = 'kafka/unknown-content-type';
      expect = ['malformed', 'delivered'];
    }
    const [meta] = await producer.send({ topic, messages: [{ key: `k${int(0, 20)}`, value, headers }] });
    sent.set(`${topic}-${meta.partition}-${meta.baseOffset}`, { cls, expect, input: show(value) });
  }
  await producer.disconnect();
  // every record: the bad ones are in the DLQ (matched by x-dlq-source), the good ones are not
  const letters = new Map<string, string>();
  const consumer = kafka.consumer({ groupId: `fuzz-dlq-${crypto.randomUUID().slice(0, 8)}` });
  await consumer.connect();
  await consumer.subscribe({ topic: dlqTopic, fromBeginning: true });
  void consumer.run({
    eachMessage: async ({ message }) => {
      const source = String(message.headers?.['x-dlq-source'] ?? '');
      letters.set(source, String(message.headers?.['x-dlq-reason'] ?? '(no reason header)'));
    },
  });
  const wantLetters = [...sent.values()].filter((s) => !s.expect.includes('delivered')).length;
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline && letters.size < wantLetters) await sleep(250);
  await sleep(2000); // late letters for records that should not have any
  await consumer.disconnect();
  for (const [source, s] of sent) {
    const got = letters.get(source) ?? 'delivered';
    record(
      s.cls,
      got === 'delivered' ? 'not in DLQ' : `dlq:${got}`,
      s.expect.includes(got),
      () => `${source}: ${s.input}`,
      s.expect.map((e) => (e === 'delivered' ? 'not in DLQ' : `dlq:${e}`)).join(' or '),
    );
  }
  const strays = [...letters.keys()].filter((k) => !sent.has(k));
  if (strays.length)
    failures.push({
      cls: 'kafka/dlq',
      input: strays.slice(0, 3).join(', '),
      observed: `${strays.length} letters with an unknown x-dlq-source`,
      expected: 'x-dlq-source = topic-partition-offset of the record',
    });
}

// --------------------------------------------------------------------------- every admin route
async function fuzzAdmin(node: GatewayProcess, total: number) {
  const call = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
    const h: Record<string, string> = { Authorization: `Bearer ${ADMIN_TOKEN}`, ...headers };
    if (body !== undefined && !h['Content-Type']) h['Content-Type'] = 'application/json';
    return http(`${node.adminUrl}${path}`, { method, headers: h, body });
  };
  const rs = () => encodeURIComponent(pick([word(), unicode(int(1, 20)), 'x'.repeat(int(100, 3000)), '%', '']));
  const rq = () => {
    const keys = ['biz', 'user', 'name', 'cursor', 'limit', word(4)];
    return Array.from(
      { length: int(0, 4) },
      () => `${pick(keys)}=${encodeURIComponent(pick([word(), String(int(-10, 1000)), unicode(5), 'x'.repeat(200), '', '1.5', 'NaN']))}`,
    ).join('&');
  };
  const rbody = () => (rnd() < 0.7 ? JSON.stringify(randomValue()) : pick(['{', 'not json', '[1,', unicode(30)]));
  const jsonError = (r: { body: any }) =>
    typeof r.body === 'object' && r.body !== null && typeof r.body.error === 'string' && typeof r.body.message === 'string';
  type Route = [string, () => Promise<{ status: number; body: any; text: string }>, number[], string];
  const routes: Route[] = [
    ['GET /api/clients?random', () => call('GET', `/api/clients?${rq()}`), [200, 400], 'clients'],
    ['GET /api/clients/:id', () => call('GET', `/api/clients/${rs() || 'x'}`), [200, 404], 'client'],
    ['DELETE /api/clients/:id', () => call('DELETE', `/api/clients/${rs() || 'x'}`, rnd() < 0.7 ? rbody() : undefined), [400, 404], 'kick'],
    ['GET /api/rooms/:room/members', () => call('GET', `/api/rooms/${rs() || 'r'}/members?${rnd() < 0.5 ? `biz=${rs()}` : ''}`), [200, 400], 'members'],
    [
      'POST /api/rooms/:room/members',
      () => call('POST', `/api/rooms/fzr-${word()}/members`, rnd() < 0.3 ? JSON.stringify({ bizId: 'fz', userId: `fz-${word()}` }) : rbody()),
      [200, 400],
      'add',
    ],
    [
      'DELETE /api/rooms/:room/members/:user',
      () => call('DELETE', `/api/rooms/fzr-${word()}/members/${rs() || 'u'}${rnd() < 0.6 ? `?biz=${rs()}` : ''}`),
      [200, 400],
      'remove',
    ],
    ['GET /api/nodes', () => call('GET', `/api/nodes?${rq()}`), [200], 'nodes'],
    ['POST /api/push non-JSON text', () => call('POST', '/api/push', pick(['{', 'x', '{"bizId":', unicode(20)])), [400], 'push'],
    [
      'POST /api/push other media type',
      () => call('POST', '/api/push', 'a=b', { 'Content-Type': pick(['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) }),
      [415],
      'push',
    ],
    [
      'POST /api/push over 1 MiB',
      () => call('POST', '/api/push', JSON.stringify({ bizId: 'fz', to: { users: ['a'] }, body: 'x'.repeat(1024 * 1024 + int(1, 1000)) })),
      [413],
      'push',
    ],
    [
      'any route without or with a bad token',
      () => {
        const [method, path] = pick([
          ['GET', '/api/clients'],
          ['GET', '/api/nodes'],
          ['POST', '/api/push'],
          ['GET', '/api/rooms/r/members?biz=fz'],
          ['DELETE', '/api/clients/x'],
        ]);
        return http(`${node.adminUrl}${path}`, {
          method,
          headers: rnd() < 0.5 ? {} : { Authorization: pick([`Bearer ${word(30)}`, word(10), `Basic ${word(12)}`, 'Bearer ']) },
        });
      },
      [401],
      'auth',
    ],
    ['unknown route', () => call(pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']), `/api/${word()}`), [404], 'unknown'],
    ['wrong method on a route', () => call(pick(['PUT', 'PATCH']), pick(['/api/clients', '/api/push', '/api/nodes'])), [404, 405], 'method'],
  ];
  for (let i = 0; i < total; i++) {
    const [name, run, allowed] = pick(routes);
    let r: { status: number; body: any; text: string };
    try {
      r = await run();
    } catch (err) {
      // over 1 MiB the node may answer 413 and close before the upload has ended: the client then sees a reset
      record(`admin/${name}`, `request failed: ${(err as Error).message}`, name.includes('over 1 MiB'), () => name, allowed.join('/'));
      continue;
    }
    // a path parameter over 100 characters is refused by the HTTP layer (Fastify's maxParamLength) with 414
    const ok = (allowed.includes(r.status) || (r.status === 414 && /:(id|room|user)/.test(name))) && (r.status < 300 || jsonError(r));
    record(
      `admin/${name}`,
      String(r.status),
      ok,
      () => `${name} -> ${r.text.slice(0, 200)}`,
      `${allowed.join(' or ')}${allowed.some((s) => s >= 400) ? ', errors as JSON {error, message}' : ''}`,
    );
  }
}

// --------------------------------------------------------------------------- the run
// on SIGTERM/SIGINT exit through process.exit, so the fixtures' exit hooks SIGKILL the nodes and services this run started
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => process.exit(130));

async function main() {
  const t0 = Date.now();
  const iso = uniquePrefixes('fuzz');
  const run = crypto.randomUUID().slice(0, 8);
  const topic = `fuzz-push-${run}`;
  const dlqTopic = `${topic}.dlq`;
  const node = await startGateway(
    {
      ...iso,
      GATEWAY_KAFKA_BROKERS: BROKERS.join(','),
      GATEWAY_PUSH_TOPIC: topic,
      GATEWAY_PUSH_DLQ_TOPIC: dlqTopic,
      GATEWAY_PUSH_EVENTS_TOPIC: `${topic}.events`,
      GATEWAY_PUSH_PARTITIONS: '3',
      GATEWAY_PUSH_BIZ_IDS: 'fz,by',
      GATEWAY_PUSH_MAX_ENVELOPE_BYTES: '4096',
      GATEWAY_UPGRADER_RATE_PER_IP: '100000',
      GATEWAY_LOG_LEVEL: 'warn',
    },
    { readyTimeoutMs: 40000 },
  );
  console.log(`fuzz: seed ${SEED}, node ${node.nodeId} pid ${node.pid}, topic ${topic}`);

  // liveness throughout: same process, /health/live 200
  const liveFailures: string[] = [];
  let watching = true;
  let liveChecks = 0;
  const watch = (async () => {
    while (watching) {
      const r = await http(`${node.adminUrl}/health/live`, {}, 3000).catch((e: Error) => ({ status: 0, text: e.message }));
      liveChecks++;
      if (r.status !== 200) liveFailures.push(`/health/live ${r.status} at +${Date.now() - t0} ms: ${String((r as any).text).slice(0, 100)}`);
      if (node.exited) liveFailures.push(`the node exited at +${Date.now() - t0} ms`);
      await sleep(250);
    }
  })();

  // the bystander: connected the whole time, gets a push every 20 ms
  const by = new WebSocket(node.wsUrl, {
    headers: { Authorization: `Bearer ${hsToken({ sub: 'bystander', biz: 'by', expiresInSec: 3600 })}` },
    perMessageDeflate: false,
  });
  const byFrames: AnyFrame[] = [];
  let byClosed: number | undefined;
  by.on('message', (d: Buffer) => byFrames.push(JSON.parse(d.toString('utf8'))));
  by.on('close', (code) => (byClosed = code));
  await new Promise<void>((resolve, reject) => {
    by.once('open', () => resolve());
    by.once('error', reject);
  });
  while (!byFrames.some((f) => f.type === 'connected')) await sleep(10);
  let pushing = true;
  let byAccepted = 0;
  const byRefused: string[] = [];
  const pusher = (async () => {
    let i = 0;
    while (pushing) {
      const r = await http(`${node.adminUrl}/api/push`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ bizId: 'by', mid: `by-${run}-${i}`, to: { users: ['bystander'] }, body: { i } }),
      }).catch((e: Error) => ({ status: 0, text: e.message }));
      if (r.status === 202) byAccepted = ++i;
      else byRefused.push(`${r.status} ${(r as any).text?.slice(0, 100)}`);
      await sleep(20);
    }
  })();

  const n = (x: number) => Math.max(1, Math.round(x * SCALE));
  const phases: [string, () => Promise<void>][] = [
    ['json frames', () => fuzzFrames(node, 'json', n(1500))],
    ['protobuf frames', () => fuzzFrames(node, 'protobuf', n(1000))],
    ['raw protocol violations', () => fuzzRaw(node, n(200))],
    ['upgrade tokens', () => fuzzTokens(node, n(400))],
    ['POST /api/push', () => fuzzApiPush(node, n(800))],
    ['kafka envelopes', () => fuzzKafka(node, topic, dlqTopic, n(300))],
    ['admin routes', () => fuzzAdmin(node, n(600))],
  ];
  for (const [name, phase] of phases) {
    const t = Date.now();
    try {
      await phase();
    } catch (err) {
      failures.push({ cls: name, input: '(phase)', observed: `harness error: ${(err as Error).stack?.slice(0, 400)}`, expected: 'the phase runs to its end' });
    }
    console.log(`  ${name}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }

  pushing = false;
  await pusher;
  // the bystander: every accepted push, in order, once
  const deadline = Date.now() + 10000;
  const pushes = () => byFrames.filter((f) => f.type === 'push');
  while (Date.now() < deadline && pushes().length < byAccepted) await sleep(100);
  await sleep(300);
  const got = pushes();
  const inOrder = got.every((f, i) => f.body?.i === i && f.seq === i + 1);
  const byClosedDuringRun = byClosed;
  const bystanderOk = got.length === byAccepted && inOrder && byClosedDuringRun === undefined && byRefused.length === 0;
  by.terminate();
  watching = false;
  await watch;
  const sameProcess = !node.exited;
  await node.stop('SIGTERM');
  await cleanupPrefixes(iso);

  // report
  let inputs = 0;
  console.log('\n| input class | inputs | answers |');
  console.log('| --- | ---: | --- |');
  for (const cls of Object.keys(tally).sort()) {
    const answers = tally[cls];
    const count = Object.values(answers).reduce((a, b) => a + b, 0);
    inputs += count;
    console.log(
      `| ${cls} | ${count} | ${Object.entries(answers)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} x${v}`)
        .join(', ')} |`,
    );
  }
  console.log(`\nfuzz: ${inputs} inputs in ${((Date.now() - t0) / 1000).toFixed(1)} s (seed ${SEED})`);
  console.log(
    `node: same pid ${node.pid} throughout: ${sameProcess && liveFailures.length === 0 ? 'yes' : 'NO'}; /health/live checks ${liveChecks}, failures ${liveFailures.length}${liveFailures.length ? `: ${liveFailures.slice(0, 5).join('; ')}` : ''}`,
  );
  console.log(
    `bystander: ${got.length}/${byAccepted} pushes, ${inOrder ? 'in order, each once' : 'NOT in order'}${byClosedDuringRun !== undefined ? `, closed with ${byClosedDuringRun} during the run` : ', open throughout'}${byRefused.length ? `, ${byRefused.length} pushes refused: ${byRefused.slice(0, 3).join('; ')}` : ''}`,
  );
  const byClass = new Map<string, typeof failures>();
  for (const f of failures) (byClass.get(f.cls) ?? byClass.set(f.cls, []).get(f.cls)!).push(f);
  for (const [cls, fs] of byClass) {
    console.log(`FAIL ${cls}: ${fs.length} inputs`);
    for (const f of fs.slice(0, 3)) console.log(`  input: ${f.input}\n  observed: ${f.observed}\n  expected: ${f.expected}`);
  }
  const pass = failures.length === 0 && liveFailures.length === 0 && sameProcess && bystanderOk;
  if (!pass)
    console.log(
      `node log (last lines but dead-letter notes):\n${node.logs
        .filter((l) => !l.includes('dead-letter'))
        .slice(-10)
        .join('\n')}`,
    );
  console.log(`fuzz: ${pass ? 'PASS' : 'FAIL'}`);
  return pass ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`FAIL: fuzz harness error: ${(err as Error).stack}`);
    process.exit(1);
  },
);
