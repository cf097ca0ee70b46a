import type { Directive } from '../../cluster/control';
import { DirectiveSource, NORMAL } from '../../cluster/directive-source';

/**
 * Embedded mode and unit tests: the directive is set in process (the embedded leader, a test).
 * `set(undefined)` is a deleted key (NORMAL).
 */
export class MemoryDirectiveSource extends DirectiveSource {
  private current: Directive = NORMAL;
  private listener?: (directive: Directive) => void;

  async watch(onDirective: (directive: Directive) => void): Promise<void> {
    this.listener = onDirective;
    onDirective(this.current);
  }

  set(directive: Directive | undefined): void {
    this.current = directive ?? NORMAL;
    this.listener?.(this.current);
  }

  async stop(): Promise<void> {
    this.listener = undefined;
  }
}
