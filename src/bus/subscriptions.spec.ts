import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { MemoryClusterBus } from '../infra/memory/memory-cluster.bus';
import { Subscriptions } from './subscriptions';

class CountingBus extends MemoryClusterBus {
  subs: string[] = [];
  unsubs: string[] = [];
  failNext = false;
  override async subscribe(channel: string) {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('down');
    }
    this.subs.push(channel);
    return super.subscribe(channel);
  }
  override async unsubscribe(channel: string) {
    this.unsubs.push(channel);
    return super.unsubscribe(channel);
  }
}

describe('subscriptions', () => {
  it('subscribes on the first holder and unsubscribes after the last', async () => {
    const bus = new CountingBus();
    const subs = new Subscriptions(bus);
    await Promise.all([subs.acquire('user:a'), subs.acquire('user:a')]);
    assert.deepEqual(bus.subs, ['user:a']);
    subs.release('user:a');
    assert.deepEqual(bus.unsubs, []);
    subs.release('user:a');
    assert.deepEqual(bus.unsubs, ['user:a']);
    assert.equal(subs.size, 0);
  });

  it('does not remember a failed subscribe', async () => {
    const bus = new CountingBus();
    const subs = new Subscriptions(bus);
    bus.failNext = true;
    await assert.rejects(subs.acquire('biz:x'), /down/);
    await subs.acquire('biz:x');
    assert.deepEqual(bus.subs, ['biz:x']);
  });
});
