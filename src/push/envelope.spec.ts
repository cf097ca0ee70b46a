import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { checkEnvelope, parseEnvelope } from './envelope';

describe('push envelope', () => {
  it('accepts each target kind', () => {
    for (const to of [{ users: ['u1', 'u2'] }, { links: ['sid'] }, { room: 'r' }, { all: true }]) {
      const r = parseEnvelope({ bizId: 'b', to, body: { a: 1 } });
      assert.equal(r.ok, true, JSON.stringify(to));
    }
  });

  it('accepts join and leave without a body, and requires their room and users', () => {
    for (const op of ['join', 'leave']) {
      const r = parseEnvelope({ bizId: 'b', op, room: 'r', to: { users: ['u'] } });
      assert.equal(r.ok, true, op);
    }
    const r = parseEnvelope({ bizId: 'b', op: 'join', to: { room: 'r' } });
    assert.deepEqual(r.ok ? [] : r.problems, [
      { field: 'room', message: 'required for op join' },
      { field: 'to.users', message: 'required for op join' },
    ]);
  });

  it('says what is wrong in words a caller can act on', () => {
    const problems = (v: unknown) => {
      const r = parseEnvelope(v);
      assert.equal(r.ok, false);
      return r.ok ? [] : r.problems.map((p) => `${p.field}: ${p.message}`);
    };
    assert.deepEqual(problems({ to: { users: ['u'] }, body: 1 }), ['bizId: required']);
    assert.deepEqual(problems({ bizId: 'b', to: { users: ['u'] } }), ['body: required']);
    assert.deepEqual(problems({ bizId: 'b', to: {}, body: 1 }), ['to: name exactly one of users, links, room, all']);
    assert.deepEqual(problems({ bizId: 'b', to: { users: ['u'] }, body: 1, ttlSec: 1.5 }), ['ttlSec: must be a whole number of seconds']);
    const [extra] = problems({ bizId: 'b', to: { users: ['u'] }, body: 1, colour: 'blue' });
    assert.match(extra, /^\(body\): .*colour/);
    const [bad] = problems({ bizId: 'b c', to: { users: ['u'] }, body: 1 });
    assert.match(bad, /^bizId: must be 1-128 characters/);
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

  it('checks the biz allow-list after the schema, naming bizId with reason unknown_biz', () => {
    const allowed = new Set(['shop', 'chat']);
    const push = (bizId: string) => ({ bizId, to: { users: ['u'] }, body: 1 });
    assert.equal(checkEnvelope(push('shop'), allowed).ok, true);
    assert.equal(checkEnvelope(push('anything'), new Set()).ok, true, 'an empty list allows any biz');
    assert.deepEqual(checkEnvelope(push('zz'), allowed), {
      ok: false,
      reason: 'unknown_biz',
      problems: [{ field: 'bizId', message: 'biz zz is not in push.bizIds', reason: 'unknown_biz' }],
    });
    const inBatch = checkEnvelope(push('zz'), allowed, '3');
    assert.deepEqual(inBatch.ok ? [] : inBatch.problems.map((p) => p.field), ['3.bizId']);
    // a malformed envelope is invalid whatever its biz: its bizId may not even be a string
    const bad = checkEnvelope({ bizId: 'zz', to: {}, body: 1 }, allowed);
    assert.deepEqual(bad.ok ? undefined : [bad.reason, bad.problems.map((p) => p.field)], ['invalid', ['to']]);
  });
});
