import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { MemoryClusterBus } from '../infra/memory/memory-cluster.bus';
import { RELEASE_LINGER_MS, Subscriptions } from './subscriptions';

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
  it('subscribes on the first holder and unsubscribes once the last has been gone for the linger', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const bus = new CountingBus();
    const subs = new Subscriptions(bus);
    await Promise.all([subs.acquire('user:a'), subs.acquire('user:a')]);
    assert.deepEqual(bus.subs, ['user:a']);
    assert.equal(subs.isLive('user:a'), true);
    subs.release('user:a');
    subs.release('user:a');
    assert.equal(subs.isLive('user:a'), false);
    t.mock.timers.tick(RELEASE_LINGER_MS - 1);
    assert.deepEqual(bus.unsubs, []);
    t.mock.timers.tick(1);
    assert.deepEqual(bus.unsubs, ['user:a']);
    // a release too many changes nothing
    subs.release('user:a');
    assert.deepEqual(bus.unsubs, ['user:a']);
  });

  it('a holder coming back within the linger keeps the subscription, without a second subscribe', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const bus = new CountingBus();
    const subs = new Subscriptions(bus);
    await subs.acquire('user:b');
    subs.release('user:b');
    t.mock.timers.tick(RELEASE_LINGER_MS / 2);
    await subs.acquire('user:b');
    t.mock.timers.tick(RELEASE_LINGER_MS * 2);
    assert.deepEqual([bus.subs, bus.unsubs, subs.isLive('user:b')], [['user:b'], [], true]);
  });

  it('is not live until the bus confirmed the subscribe', async () => {
    const bus = new CountingBus();
    const subs = new Subscriptions(bus);
    const ready = subs.acquire('user:c');
    assert.equal(subs.isLive('user:c'), false);
    await ready;
    await Promise.resolve();
    assert.equal(subs.isLive('user:c'), true);
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
