/** What the wheel needs on each entry: its place, kept on the entry so cancel is O(1). */
export interface WheelEntry {
  wheelSlot: number;
  wheelRounds: number;
}

/**
 * A hashed timing wheel: one interval timer for every link of the process, instead of a
 * timer per link. schedule/cancel are O(1); a tick touches only the entries in its slot.
 * Precision is one tick; deadlines further than a turn wait whole rounds.
 */
export class TimerWheel<T extends WheelEntry> {
  private readonly slots: Set<T>[];
  private cursor = 0;
  private timer?: NodeJS.Timeout;
  private size_ = 0;

  constructor(
    private readonly tickMs: number,
    slotCount: number,
    private readonly fire: (entry: T, now: number) => void,
  ) {
    this.slots = Array.from({ length: slotCount }, () => new Set<T>());
  }

  get size(): number {
    return this.size_;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(Date.now()), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** (Re)arms `entry` to fire `delayMs` from now (at least one tick). */
  schedule(entry: T, delayMs: number): void {
    this.cancel(entry);
    const ticks = Math.max(1, Math.ceil(delayMs / this.tickMs));
    const n = this.slots.length;
    entry.wheelRounds = Math.floor((ticks - 1) / n);
    entry.wheelSlot = (this.cursor + ticks) % n;
    this.slots[entry.wheelSlot].add(entry);
    this.size_++;
  }

  cancel(entry: T): void {
    if (entry.wheelSlot >= 0 && this.slots[entry.wheelSlot].delete(entry)) this.size_--;
    entry.wheelSlot = -1;
  }

  /** Advances one slot; exposed so tests can drive time without sleeping. */
  tick(now: number): void {
    this.cursor = (this.cursor + 1) % this.slots.length;
    const slot = this.slots[this.cursor];
    // collect first: a fired entry may be rescheduled into this very slot
    const due: T[] = [];
    for (const entry of slot) {
      if (entry.wheelRounds > 0) entry.wheelRounds--;
      else due.push(entry);
    }
    for (const entry of due) {
      slot.delete(entry);
      this.size_--;
      entry.wheelSlot = -1;
    }
    for (const entry of due) this.fire(entry, now);
  }
}
