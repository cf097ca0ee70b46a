import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../config/config.loader';
import { GatewayConfig } from '../config/gateway.config';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import type { Session } from '../session/session';
import type { BackendInstance } from './backend-discovery';
import type { BackendDirectory } from './backend-directory.service';
import { BackendTransport, TransportError, TransportFailure, WireReply } from './backend-transport';
import { RemoteUplinkBackend } from './remote-uplink.backend';

const metrics = new GatewayMetrics();
after(() => metrics.close());

const session: Session = { sid: 's', bizId: 'b', userId: 'u', ip: '::1', node: 'n', connectedAt: 0 };

/** a transport whose answer per address is scripted: a failure kind, or a reply */
class ScriptedTransport extends BackendTransport {
  readonly calls: string[] = [];
  constructor(private readonly script: Record<string, TransportFailure | WireReply | ((addr: string) => Promise<WireReply>)>) {
    super();
  }
  async request(addr: string): Promise<WireReply> {
    this.calls.push(addr);
    const s = this.script[addr];
    if (typeof s === 'function') return s(addr);
    if (typeof s === 'string') throw new TransportError(s, `${addr}: ${s}`);
    return s;
  }
  async authorizeJoin(): Promise<{ allowed: boolean; msg: string }> {
    return { allowed: true, msg: '' };
  }
  forget(): void {}
  close(): void {}
}

function uplink(addrs: string[], transport: BackendTransport, env: Record<string, string> = {}) {
  const { config } = loadConfig({ cwd: '/', env: { GATEWAY_BACKEND_RETRIES: '2', ...env } });
  const instances: BackendInstance[] = addrs.map((addr) => ({ bizId: 'b', id: addr, addr }));
  const directory = { instances: () => instances, all: () => new Map([['b', instances]]) } as unknown as BackendDirectory;
  return new RemoteUplinkBackend(GatewayConfig.from(config), directory, transport, metrics, false);
}

const ok: WireReply = { code: 0, body: Buffer.from('{"x":1}'), msg: '' };

describe('remote uplink backend (scripted transport)', () => {
  it('a request that cannot have reached a backend goes to another instance', async () => {
    const t = new ScriptedTransport({ a: 'not_sent', b: 'not_sent', c: ok });
    const reply = await uplink(['a', 'b', 'c'], t).request({ session, id: '1', body: {} });
    assert.deepEqual(reply, { code: 0, body: { x: 1 } });
    // the instances are picked at random: whatever the order, it ends on c, and none is tried twice
    assert.equal(t.calls.at(-1), 'c');
    assert.equal(new Set(t.calls).size, t.calls.length);
  });

  it('one that may have reached a backend is not sent again, unless the biz is idempotent', async () => {
    const t = new ScriptedTransport({ a: 'unavailable', b: 'unavailable' });
    const once = await uplink(['a', 'b'], t).request({ session, id: '1', body: {} });
    assert.equal(once.code, 503);
    assert.equal(t.calls.length, 1);
    const t2 = new ScriptedTransport({ a: 'unavailable', b: ok });
    const retried = await uplink(['a', 'b'], t2, { GATEWAY_BACKEND_IDEMPOTENT_BIZ_IDS: 'b' }).request({ session, id: '1', body: {} });
    // which instance came first is random: either it answered, or it failed and the other one did
    assert.equal(retried.code, 0);
  });

  it('maps failures to ack codes: deadline 504, a broken reply 500, a body that is not JSON 500, a code of its own passes', async () => {
    assert.equal((await uplink(['a'], new ScriptedTransport({ a: 'deadline' })).request({ session, id: '1', body: {} })).code, 504);
    assert.equal((await uplink(['a'], new ScriptedTransport({ a: 'failed' })).request({ session, id: '1', body: {} })).code, 500);
    const notJson = { code: 0, body: Buffer.from('<xml/>'), msg: '' };
    assert.equal((await uplink(['a'], new ScriptedTransport({ a: notJson })).request({ session, id: '1', body: {} })).code, 500);
    const own = { code: 409, body: Buffer.alloc(0), msg: 'taken' };
    assert.deepEqual(await uplink(['a'], new ScriptedTransport({ a: own })).request({ session, id: '1', body: {} }), { code: 409, msg: 'taken' });
  });

  it('past backend.maxConcurrentPerBiz the next request of the biz gets 503 at once', async () => {
    let release!: () => void;
    const held = new Promise<WireReply>((r) => (release = () => r(ok)));
    const u = uplink(['a'], new ScriptedTransport({ a: () => held }), { GATEWAY_BACKEND_MAX_CONCURRENT_PER_BIZ: '1' });
    const first = u.request({ session, id: '1', body: {} });
    const second = await u.request({ session, id: '2', body: {} });
    assert.equal(second.code, 503);
    release();
    assert.equal((await first).code, 0);
  });

  it('opens an instance circuit after consecutive failures and answers 503 without calling it', async () => {
    const t = new ScriptedTransport({ a: 'unavailable' });
    const u = uplink(['a'], t, { GATEWAY_BACKEND_BREAKER_FAILURES: '3', GATEWAY_BACKEND_BREAKER_HALF_OPEN_MS: '60000' });
    for (let i = 0; i < 3; i++) await u.request({ session, id: String(i), body: {} });
    const before = t.calls.length;
    assert.equal((await u.request({ session, id: 'x', body: {} })).code, 503);
    assert.equal(t.calls.length, before, 'an open circuit lets nothing through');
    assert.deepEqual(
      u.circuitStates().map((c) => c.circuit),
      ['open'],
    );
  });
});
