import { LogEntry, LogResult, PushLog } from '../../mailbox/push-log';
import { MemoryMailbox } from './memory-mailbox';

/**
 * Embedded mode's PushLog: stores in the in-process mailbox. There is one node, which delivers
 * to its own links itself, so there is nobody to announce to (`published` is always false).
 */
export class MemoryPushLog extends PushLog {
  constructor(private readonly mailbox: MemoryMailbox) {
    super();
  }

  async append(bizId: string, userId: string, entry: LogEntry): Promise<LogResult> {
    return { ...this.mailbox.store(bizId, userId, entry, { persist: true }), published: false };
  }

  async claim(bizId: string, scope: string, mid: string): Promise<boolean> {
    return !this.mailbox.store(bizId, scope, { mid, body: null, ts: 0 }, { persist: false }).duplicate;
  }
}
