import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { TimerWheel, WheelEntry } from './timer-wheel';

class Entry implements WheelEntry {
  wheelSlot = -1;
  wheelRounds = 0;
  constructor(readonly name: string) {}
}

describe('timer wheel', () => {
  it('fires each entry after its delay, in ticks, including delays longer than one turn', () => {
    const fired: [string, number][] = [];
    let tick = 0;
    const wheel = new TimerWheel<Entry>(10, 8, (e) => fired.push([e.name, tick]));
    wheel.schedule(new Entry('a'), 30);
    wheel.schedule(new Entry('b'), 100); // 10 ticks: more than the 8 slots
    wheel.schedule(new Entry('c'), 1); // rounds up to one tick
    for (tick = 1; tick <= 12; tick++) wheel.tick(tick * 10);
    assert.deepEqual(fired, [
      ['c', 1],
      ['a', 3],
      ['b', 10],
    ]);
    assert.equal(wheel.size, 0);
  });

  it('cancel and reschedule keep one place per entry', () => {
    const fired: string[] = [];
    const wheel = new TimerWheel<Entry>(10, 8, (e) => fired.push(e.name));
    const a = new Entry('a');
    wheel.schedule(a, 20);
    wheel.schedule(a, 50);
    assert.equal(wheel.size, 1);
    for (let i = 0; i < 3; i++) wheel.tick(0);
    assert.deepEqual(fired, []);
    wheel.cancel(a);
    for (let i = 0; i < 10; i++) wheel.tick(0);
    assert.deepEqual(fired, []);
    assert.equal(wheel.size, 0);
  });

  it('an entry rescheduled from its own callback fires again a turn later, not in the same tick', () => {
    let count = 0;
    const wheel: TimerWheel<Entry> = new TimerWheel<Entry>(10, 4, (e) => {
      count++;
      if (count < 3) wheel.schedule(e, 40); // exactly one turn
    });
    wheel.schedule(new Entry('x'), 40);
    for (let i = 0; i < 4; i++) wheel.tick(0);
    assert.equal(count, 1);
    for (let i = 0; i < 8; i++) wheel.tick(0);
    assert.equal(count, 3);
  });
});
