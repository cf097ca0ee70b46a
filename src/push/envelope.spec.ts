import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseEnvelope } from './envelope';

describe('push envelope', () => {
  it('accepts each target kind', () => {
    for (const to of [{ users: ['u1', 'u2'] }, { links: ['sid'] }, { room: 'r' }, { all: true }]) {
      const r = parseEnvelope({ bizId: 'b', to, body: { a: 1 } });
      assert.equal(r.ok, true, JSON.stringify(to));
    }
  });

  it('names the field at fault', () => {
    const fields = (v: unknown, at?: string) => {
      const r = parseEnvelope(v, at);
      assert.equal(r.ok, false);
      return r.ok ? [] : r.problems.map((p) => p.field);
    };
    assert.deepEqual(fields({ to: { users: ['u'] }, body: 1 }), ['bizId']);
    assert.deepEqual(fields({ bizId: 'b', to: { users: ['u'], all: true }, body: 1 }), ['to']);
    assert.deepEqual(fields({ bizId: 'b', to: { users: 'u' }, body: 1 }), ['to.users']);
    assert.deepEqual(fields({ bizId: 'b', to: { users: ['u'] } }), ['body']);
    assert.deepEqual(fields({ bizId: 'b', to: { users: ['u'] }, body: 1, extra: 1 }), ['(body)']);
    assert.deepEqual(fields({ bizId: 'b', to: { users: ['u'] }, body: 1, ttlSec: -1 }, '3'), ['3.ttlSec']);
    assert.deepEqual(fields('nope'), ['(body)']);
  });
});
