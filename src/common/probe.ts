/** A dependency the node needs, as /health sees it. Bound per mode by the infra module. */
export abstract class DependencyProbes {
  /** name -> check that resolves when the dependency answers within timeoutMs */
  abstract readonly probes: ReadonlyArray<{ name: string; check(timeoutMs: number): Promise<void> }>;
}
