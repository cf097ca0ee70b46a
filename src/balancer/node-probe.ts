/** What one probe of a node's readiness found. */
export type ProbeResult = { ok: true } | { ok: false; reachable: boolean; error: string };

/**
 * Asks a node whether it takes links (`GET <adminUrl>/health/ready`). Guarantee: settles within
 * `timeoutMs`; `reachable: false` means the node did not answer at all (refused, reset, timed
 * out: dead or hung), `reachable: true` with `ok: false` that it answered "not ready" (starting,
 * draining, its Redis away).
 */
export abstract class NodeProbe {
  abstract probe(adminUrl: string, timeoutMs: number): Promise<ProbeResult>;
}

export class HttpNodeProbe extends NodeProbe {
  async probe(adminUrl: string, timeoutMs: number): Promise<ProbeResult> {
    try {
      const res = await fetch(`${adminUrl.replace(/\/+$/, '')}/health/ready`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
      return res.ok ? { ok: true } : { ok: false, reachable: true, error: `/health/ready answered ${res.status}` };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message);
      return { ok: false, reachable: false, error: `/health/ready: ${why}` };
    }
  }
}
