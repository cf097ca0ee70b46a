import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runKeyed } from './keyed';

describe('runKeyed', () => {
  it('keeps each key in order, overlaps keys, and returns results in input order', async () => {
    const log: string[] = [];
    const items = ['a1', 'b1', 'a2', 'b2', 'c1'];
    const out = await runKeyed(
      items,
      (s) => s[0],
      3,
      async (s) => {
        log.push(`start ${s}`);
        await new Promise((r) => setTimeout(r, s === 'a1' ? 20 : 1));
        log.push(`end ${s}`);
        return s.toUpperCase();
      },
    );
    assert.deepEqual(out, ['A1', 'B1', 'A2', 'B2', 'C1']);
    assert.ok(log.indexOf('end a1') < log.indexOf('start a2'));
    assert.ok(log.indexOf('end b2') < log.indexOf('end a1'), 'b must not wait for a');
  });

  it('rejects with the first error', async () => {
    await assert.rejects(
      runKeyed([1, 2, 3], String, 2, async (n) => {
        if (n === 2) throw new Error('two');
        return n;
      }),
      /two/,
    );
  });
});
