/** One dependency as /health sees it. */
export interface DependencyProbe {
  name: string;
  /**
   * Whether /health/ready fails while this dependency is down: true only for what accepting
   * and serving links needs (the session store). The others are reported by /health alone.
   */
  requiredForReady: boolean;
  /** resolves when the dependency answers within timeoutMs */
  check(timeoutMs: number): Promise<void>;
}

/** The dependencies the node needs, as /health sees them. Bound per mode by the governance module. */
export abstract class DependencyProbes {
  abstract readonly probes: ReadonlyArray<DependencyProbe>;
}
