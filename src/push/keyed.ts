/**
 * Runs `fn` over `items` with up to `concurrency` at once, in order within each key (items
 * with one key run one after another, in the order given). Resolves with the results in the
 * items' order; rejects with the first error, after every started item has settled.
 */
export async function runKeyed<T, R>(items: readonly T[], keyOf: (item: T) => string, concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const chains = new Map<string, number[]>();
  items.forEach((item, i) => {
    const key = keyOf(item);
    const chain = chains.get(key);
    if (chain) chain.push(i);
    else chains.set(key, [i]);
  });
  const queue = [...chains.values()];
  const results = new Array<R>(items.length);
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    for (let chain = queue.shift(); chain && !failure; chain = queue.shift()) {
      for (const i of chain) {
        try {
          results[i] = await fn(items[i]);
        } catch (error) {
          failure ??= { error };
          return;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}
