import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Codec } from './codec';
import { CodecRegistry } from './codec.registry';
import { Frame, FrameDecodeError } from './frame';
import { JsonCodec } from './json.codec';
import { ProtobufCodec } from './protobuf.codec';

const samples: Frame[] = [
  { type: 'connected', sid: 's1', node: 'n1', heartbeatMs: 25000 },
  { type: 'req', id: '7', body: { q: 'hello', n: [1, 2] } },
  { type: 'ack', id: '7', code: 0, body: 'ok' },
  { type: 'push', mid: 'm-1', body: { text: 'hi' }, room: 'r1' },
  { type: 'ack-push', mid: 'm-1' },
  { type: 'join', room: 'r1' },
  { type: 'redirect', url: 'ws://other:9002/ws', reason: 'draining' },
  { type: 'ping', ts: 12345 },
  { type: 'error', code: 400, msg: 'bad' },
  { type: 'token', token: 'abc' },
];

for (const codec of [new JsonCodec(), new ProtobufCodec()] as Codec[]) {
  describe(`${codec.name} codec`, () => {
    it('round-trips every frame kind', () => {
      for (const frame of samples) {
        const wire = codec.encode(frame);
        const back = codec.decode(typeof wire === 'string' ? Buffer.from(wire) : wire, codec.binary);
        assert.deepEqual(back, frame);
      }
    });

    it('refuses garbage with a FrameDecodeError', () => {
      assert.throws(() => codec.decode(Buffer.from([0xff, 0x00, 0x13, 0x37, 0x99]), codec.binary), FrameDecodeError);
    });
  });
}

describe('json codec validation', () => {
  const json = new JsonCodec();
  const decode = (s: string) => json.decode(Buffer.from(s));
  it('names the problem: no type, unknown type, wrong field type, not an object', () => {
    assert.throws(() => decode('{"id":"1"}'), /no string "type"/);
    assert.throws(() => decode('{"type":"launch"}'), /unknown frame type "launch"/);
    assert.throws(() => decode('{"type":"req","id":5}'), /bad "req" frame: id: string expected/);
    assert.throws(() => decode('[1,2]'), /must be a JSON object/);
    assert.throws(() => decode('{"type":'), /not valid JSON/);
  });
  it('keeps any JSON body', () => {
    assert.deepEqual(decode('{"type":"req","id":"1","body":[null,true,{"a":"b"}]}'), { type: 'req', id: '1', body: [null, true, { a: 'b' }] });
  });
});

describe('codec selection', () => {
  const reg = new CodecRegistry('json');
  it('prefers the subprotocol, then ?codec=, then the default', () => {
    assert.deepEqual(
      [reg.select(new Set(['gateway.protobuf']), 'json'), reg.select(new Set(), 'protobuf'), reg.select(new Set(['bearer.x']), null)].map((r) => [
        r.codec.name,
        r.protocol,
      ]),
      [
        ['protobuf', 'gateway.protobuf'],
        ['protobuf', undefined],
        ['json', undefined],
      ],
    );
  });
});

describe('push frames from a body already serialised', () => {
  const frames: Extract<Frame, { type: 'push' }>[] = [
    { type: 'push', mid: 'm"1', body: { text: 'héllo "quoted" \u2028', n: [1, 2.5, null] } },
    { type: 'push', mid: 'm2', body: 'plain', room: 'lobby/1' },
    { type: 'push', mid: 'm3', body: { a: 1 }, seq: 42, epoch: 'e"x' },
    { type: 'push', mid: 'm4', body: null, room: 'r', seq: 1, epoch: 'e' },
  ];
  for (const codec of [new JsonCodec(), new ProtobufCodec()]) {
    it(`${codec.name}: gives exactly what encode() gives`, () => {
      for (const f of frames) assert.deepEqual(codec.encodePush(f, JSON.stringify(f.body)), codec.encode(f), JSON.stringify(f));
    });
  }
});
