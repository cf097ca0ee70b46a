import {
  BulkheadPolicy,
  CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  bulkhead,
  circuitBreaker,
  handleType,
  handleWhen,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  retry,
  RetryPolicy,
} from 'cockatiel';
import { GatewayConfig } from '../config/gateway.config';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import type { Session } from '../session/session';
import { BackendInstance } from './backend-discovery';
import { BackendDirectory } from './backend-directory.service';
import { BackendTransport, TransportError } from './backend-transport';
import { EchoBackend } from './echo.backend';
import { AckCode, JoinDecision, UplinkBackend, UplinkReply, UplinkRequest } from './uplink.backend';

const CIRCUIT_VALUE: Record<CircuitState, number> = {
  [CircuitState.Closed]: 0,
  [CircuitState.HalfOpen]: 1,
  [CircuitState.Open]: 2,
  [CircuitState.Isolated]: 2,
};

/** a request went nowhere: no instance could take it (circuits open, all tried) */
class NoInstance extends Error {}

/** an attempt's failure that another instance may fix (it cannot have reached a backend, or may be repeated) */
class Retryable extends Error {
  constructor(readonly failure: TransportError) {
    super(failure.message);
  }
}

/**
 * The uplink to gRPC backends, as production needs it. Per request: the biz's concurrency bound
 * (a bulkhead: past backend.maxConcurrentPerBiz in flight, 503 at once, so a slow biz never holds
 * another); an instance picked by power of two choices on outstanding requests among those whose
 * circuit is not open; one deadline (backend.timeoutMs) for the whole request; retries with
 * exponential backoff and jitter on another instance, only when the request cannot have reached
 * a backend (or the biz is idempotent); a circuit breaker per instance. Failures become ack codes
 * (docs/protocol.md); a biz with no instance gets 404, or the echo backend when echo is on.
 */
export class RemoteUplinkBackend extends UplinkBackend {
  private readonly circuits = new Map<string, CircuitBreakerPolicy>();
  private readonly bulkheads = new Map<string, BulkheadPolicy>();
  private readonly outstanding = new Map<string, number>();
  private readonly idempotent: ReadonlySet<string>;
  private readonly echo?: EchoBackend;
  /** one retry policy for every request (a policy per request cost allocations and listeners each time) */
  private readonly retries: RetryPolicy;

  constructor(
    private readonly config: GatewayConfig,
    private readonly directory: BackendDirectory,
    private readonly transport: BackendTransport,
    private readonly metrics: GatewayMetrics,
    /** a biz without instances is answered by the echo backend (backend.echo) */
    echoFallback: boolean,
  ) {
    super();
    this.idempotent = new Set(config.backend.idempotentBizIds);
    if (echoFallback) this.echo = new EchoBackend();
    this.retries = retry(handleType(Retryable), {
      maxAttempts: config.backend.retries,
      backoff: new ExponentialBackoff({ initialDelay: 20, maxDelay: 250 }),
    });
  }

  async request(req: UplinkRequest): Promise<UplinkReply> {
    const bizId = req.session.bizId;
    if (this.directory.instances(bizId).length === 0) {
      return this.echo ? this.echo.request(req) : { code: AckCode.NO_BACKEND, msg: `no backend serves biz ${bizId}` };
    }
    const deadline = Date.now() + this.config.backend.timeoutMs;
    const body = Buffer.from(JSON.stringify(req.body ?? null));
    this.metrics.uplinkInFlight.inc({ biz: bizId });
    try {
      const reply = await this.bulkhead(bizId).execute(() =>
        this.withRetries(bizId, this.idempotent.has(bizId), deadline, (i) => this.transport.request(i.addr, req.session, req.id, body, deadline)),
      );
      if (reply.code === AckCode.OK || reply.body.length > 0) {
        let parsed: unknown;
        try {
          parsed = reply.body.length ? JSON.parse(reply.body.toString('utf8')) : undefined;
        } catch {
          return { code: AckCode.BACKEND_ERROR, msg: 'the backend answered with a body that is not JSON' };
        }
        return { code: reply.code, ...(parsed !== undefined ? { body: parsed } : {}), ...(reply.msg ? { msg: reply.msg } : {}) };
      }
      return { code: reply.code, ...(reply.msg ? { msg: reply.msg } : {}) };
    } catch (err) {
      return this.failure(bizId, err);
    } finally {
      this.metrics.uplinkInFlight.dec({ biz: bizId });
    }
  }

  async authorizeJoin(session: Session, room: string): Promise<JoinDecision> {
    const bizId = session.bizId;
    if (this.directory.instances(bizId).length === 0) {
      return this.echo ? this.echo.authorizeJoin(session, room) : { allowed: false, code: AckCode.NO_BACKEND, msg: `no backend serves biz ${bizId}` };
    }
    const deadline = Date.now() + this.config.backend.timeoutMs;
    try {
      // asking is always safe to repeat
      const r = await this.withRetries(bizId, true, deadline, (i) => this.transport.authorizeJoin(i.addr, session, room, deadline));
      return r.allowed ? { allowed: true } : { allowed: false, code: 403, msg: r.msg || 'the backend refused the join' };
    } catch (err) {
      const reply = this.failure(bizId, err);
      return { allowed: false, code: reply.code, msg: reply.msg };
    }
  }

  /**
   * Runs `call` on an instance of the biz, and on others while the failure is retryable, the
   * attempts bounded by backend.retries and the deadline.
   */
  private async withRetries<T>(bizId: string, idempotent: boolean, deadline: number, call: (i: BackendInstance) => Promise<T>): Promise<T> {
    const tried = new Set<string>();
    try {
      return await this.retries.execute(async ({ attempt }) => {
        if (attempt > 0) this.metrics.uplinkRetries.inc({ biz: bizId });
        if (Date.now() >= deadline) throw new TransportError('deadline', 'deadline passed before a backend could be tried');
        const instance = this.pick(bizId, tried);
        tried.add(instance.addr);
        this.outstanding.set(instance.addr, (this.outstanding.get(instance.addr) ?? 0) + 1);
        try {
          return await this.circuit(instance).execute(() => call(instance));
        } catch (err) {
          // a circuit that let nothing through: the request went nowhere, another instance may take it
          const failure = isBrokenCircuitError(err) ? new TransportError('not_sent', `circuit of ${instance.id} is open`) : err;
          const again = failure instanceof TransportError && (failure.failure === 'not_sent' || (idempotent && failure.failure === 'unavailable'));
          throw again && Date.now() < deadline ? new Retryable(failure as TransportError) : failure;
        } finally {
          this.outstanding.set(instance.addr, (this.outstanding.get(instance.addr) ?? 1) - 1);
        }
      });
    } catch (err) {
      throw err instanceof Retryable ? err.failure : err;
    }
  }

  /**
   * Power of two choices on outstanding requests, among the instances not tried yet whose circuit
   * is not open; when every circuit is open, among those (cockatiel moves an open circuit to
   * half-open only when asked to run something after backend.breakerHalfOpenMs: the call is then
   * the probe, and within the break it fails at once without reaching the backend).
   */
  private pick(bizId: string, tried: ReadonlySet<string>): BackendInstance {
    const untried = this.directory.instances(bizId).filter((i) => !tried.has(i.addr));
    let candidates = untried.filter((i) => this.circuit(i).state !== CircuitState.Open);
    if (candidates.length === 0) candidates = untried;
    if (candidates.length === 0) throw new NoInstance(`every backend of biz ${bizId} is unavailable (${tried.size} tried)`);
    if (candidates.length === 1) return candidates[0];
    const a = candidates[Math.floor(Math.random() * candidates.length)];
    let b = candidates[Math.floor(Math.random() * (candidates.length - 1))];
    if (b === a) b = candidates[candidates.length - 1];
    return (this.outstanding.get(a.addr) ?? 0) <= (this.outstanding.get(b.addr) ?? 0) ? a : b;
  }

  private circuit(i: BackendInstance): CircuitBreakerPolicy {
    let c = this.circuits.get(i.addr);
    if (!c) {
      const { breakerFailures, breakerHalfOpenMs } = this.config.backend;
      // a backend's own error code is an answer, not a failure: only transport failures count
      c = circuitBreaker(
        handleWhen((err) => err instanceof TransportError),
        { halfOpenAfter: breakerHalfOpenMs, breaker: new ConsecutiveBreaker(breakerFailures) },
      );
      c.onStateChange((state) => this.metrics.backendCircuit.set({ biz: i.bizId, instance: i.id }, CIRCUIT_VALUE[state]));
      this.metrics.backendCircuit.set({ biz: i.bizId, instance: i.id }, 0);
      this.circuits.set(i.addr, c);
    }
    return c;
  }

  private bulkhead(bizId: string): BulkheadPolicy {
    let b = this.bulkheads.get(bizId);
    if (!b) this.bulkheads.set(bizId, (b = bulkhead(this.config.backend.maxConcurrentPerBiz, 0)));
    return b;
  }

  /** circuit states of every instance, for /health */
  circuitStates(): { bizId: string; instance: string; addr: string; circuit: string; outstanding: number }[] {
    const out = [];
    for (const [bizId, list] of this.directory.all())
      for (const i of list)
        out.push({
          bizId,
          instance: i.id,
          addr: i.addr,
          circuit: CircuitState[this.circuit(i).state].toLowerCase(),
          outstanding: this.outstanding.get(i.addr) ?? 0,
        });
    return out;
  }

  private failure(bizId: string, err: unknown): UplinkReply {
    if (isBulkheadRejectedError(err)) return { code: AckCode.UNAVAILABLE, msg: `biz ${bizId} has too many requests in flight` };
    if (err instanceof NoInstance) return { code: AckCode.UNAVAILABLE, msg: err.message };
    if (err instanceof TransportError) {
      if (err.failure === 'deadline') return { code: AckCode.TIMEOUT, msg: `no backend answer within ${this.config.backend.timeoutMs} ms` };
      if (err.failure === 'failed') return { code: AckCode.BACKEND_ERROR, msg: `backend call failed: ${err.message}` };
      return { code: AckCode.UNAVAILABLE, msg: `backend unavailable: ${err.message}` };
    }
    return { code: AckCode.BACKEND_ERROR, msg: 'backend error' };
  }
}
