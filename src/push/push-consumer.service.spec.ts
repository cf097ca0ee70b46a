import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { gateway } from '../codec/generated/frames';
import { loadConfig } from '../config/config.loader';
import { GatewayConfig } from '../config/gateway.config';
import { Envelope } from './envelope';
import { PushConsumer } from './push-consumer.service';
import { NoPushSource, RawRecord } from './push-source';
import { PushRouter } from './push.router';

const { config: raw } = loadConfig({ cwd: '/', env: { GATEWAY_PUSH_BIZ_IDS: 'b,c', GATEWAY_PUSH_MAX_ENVELOPE_BYTES: '2048' } });

function consumer(onPush: (e: Envelope, mid?: string) => Promise<void> | void) {
  const push = { push: async (e: Envelope, _s: string, mid?: string) => void (await onPush(e, mid)) } as unknown as PushRouter;
  return new PushConsumer(new NoPushSource(), push, GatewayConfig.from(raw));
}
let offset = 0;
const rec = (value: unknown, key?: string, headers: Record<string, string> = {}): RawRecord => ({
  key,
  value: Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  headers,
  ref: `gateway.push-0-${offset++}`,
});

describe('push consumer', () => {
  it('sends malformed, oversize, invalid and unknown-biz records to the DLQ with a reason and handles the rest', async () => {
    const seen: string[] = [];
    const c = consumer((e) => void seen.push(String(e.body)));
    const dead = await c.handleBatch([
      rec({ bizId: 'b', to: { users: ['u'] }, body: 'ok-1' }, 'u'),
      rec('{not json', 'u'),
      rec({ bizId: 'b', to: { users: ['u'] }, body: 'x'.repeat(4000) }, 'u'),
      rec({ bizId: 'b', to: { users: 'u' }, body: 1 }, 'u'),
      rec({ bizId: 'zz', to: { users: ['u'] }, body: 1 }, 'u'),
      rec(Buffer.from([1, 2, 3]), 'u', { 'content-type': 'application/x-protobuf' }),
      rec({ bizId: 'c', to: { users: ['u'] }, body: 'ok-2' }, 'u'),
    ]);
    assert.deepEqual(
      dead.map((d) => d.reason),
      ['malformed', 'too_large', 'invalid', 'unknown_biz', 'malformed'],
    );
    assert.match(dead[2].detail, /to\.users/);
    assert.equal(dead[3].detail, 'bizId: biz zz is not in push.bizIds');
    assert.deepEqual(seen, ['ok-1', 'ok-2']);
  });

  it('decodes protobuf envelopes named by the content-type header', async () => {
    const seen: Envelope[] = [];
    const c = consumer((e) => void seen.push(e));
    const bytes = gateway.v1.PushEnvelope.encode({ bizId: 'b', to: { users: ['u1', 'u2'] }, body: Buffer.from(JSON.stringify({ a: 1 })), ttlSec: 30 }).finish();
    const dead = await c.handleBatch([rec(Buffer.from(bytes), 'u1', { 'content-type': 'application/x-protobuf' })]);
    assert.deepEqual(dead, []);
    assert.deepEqual(seen, [{ bizId: 'b', to: { users: ['u1', 'u2'] }, body: { a: 1 }, ttlSec: 30 }]);
  });

  it('keeps one key in order while other keys run concurrently, and gives mid-less records their coordinates', async () => {
    const order: string[] = [];
    const mids: (string | undefined)[] = [];
    // the first record of key A is held until B2 is done: key B must not wait for it, A2 must
    // (the fallback release only turns a consumer that makes B wait into a failed assertion
    // rather than a hung test)
    let releaseA1!: () => void;
    const a1Gate = new Promise<void>((r) => (releaseA1 = r));
    const fallback = setTimeout(() => releaseA1(), 2000);
    const c = consumer(async (e, mid) => {
      mids.push(mid);
      if (e.body === 'A1') await a1Gate;
      order.push(String(e.body));
      if (e.body === 'B2') releaseA1();
    });
    await c.handleBatch(['A1', 'B1', 'A2', 'B2'].map((b) => rec({ bizId: 'b', to: { users: [b[0]] }, body: b }, b[0])));
    clearTimeout(fallback);
    assert.ok(order.indexOf('A1') < order.indexOf('A2'));
    assert.ok(order.indexOf('B2') < order.indexOf('A1'), `B should not wait for A: ${order}`);
    assert.ok(mids.every((m) => m?.startsWith('gateway.push-0-')));
  });

  it('rejects the whole batch when a push cannot be stored, so nothing is committed', async () => {
    const c = consumer(() => {
      throw new Error('redis down');
    });
    await assert.rejects(c.handleBatch([rec({ bizId: 'b', to: { users: ['u'] }, body: 1 }, 'u')]), /redis down/);
  });
});
