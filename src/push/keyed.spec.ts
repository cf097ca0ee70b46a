import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runKeyed } from './keyed';

/** A promise the test settles itself: what runs when is decided by the test, not by a clock. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('runKeyed', () => {
  it('keeps each key in order, runs keys concurrently up to the limit, and returns results in input order', { timeout: 10_000 }, async () => {
    const items = ['a1', 'b1', 'a2', 'b2', 'c1'];
    const started = Object.fromEntries(items.map((s) => [s, deferred()]));
    const release = Object.fromEntries(items.map((s) => [s, deferred()]));
    const log: string[] = [];
    let running = 0;
    let mostRunning = 0;
    const run = runKeyed(
      items,
      (s) => s[0],
      2,
      async (s) => {
        log.push(`start ${s}`);
        mostRunning = Math.max(mostRunning, ++running);
        started[s].resolve();
        await release[s].promise;
        running--;
        log.push(`end ${s}`);
        return s.toUpperCase();
      },
    );

    await Promise.all([started.a1.promise, started.b1.promise]);
    assert.deepEqual(log, ['start a1', 'start b1'], 'a2 waits for a1; c1 waits for one of the 2 slots');

    release.b1.resolve();
    await started.b2.promise;
    assert.deepEqual(log.slice(2), ['end b1', 'start b2'], 'b goes on while a1 is still running');

    release.b2.resolve();
    await started.c1.promise;
    assert.deepEqual(log.slice(4), ['end b2', 'start c1'], 'the slot b gave up goes to c, a1 still running');

    release.a1.resolve();
    await started.a2.promise;
    assert.deepEqual(log.slice(6), ['end a1', 'start a2'], 'a2 starts only once a1 has ended');

    release.c1.resolve();
    release.a2.resolve();
    assert.deepEqual(await run, ['A1', 'B1', 'A2', 'B2', 'C1']);
    assert.equal(mostRunning, 2, 'never more than the limit at once');
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
