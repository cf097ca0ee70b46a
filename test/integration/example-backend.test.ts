import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Etcd3 } from 'etcd3';
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BackendProcess, startBackend } from '../fixtures/backend-process';
import { ROOT } from '../fixtures/gateway-process';
import { ETCD_ENDPOINT } from '../fixtures/infra';

// The example backend (examples/backend) against the shared etcd, called the way a gateway
// does: a bare grpc-js client on the contract's proto, nothing of the backend's own code.

type Reply = { code: number; body: Buffer; msg: string };
type Join = { allowed: boolean; msg: string };
type Client = grpc.Client & {
  Request(req: unknown, cb: (err: grpc.ServiceError | null, r: Reply) => void): void;
  AuthorizeJoin(req: unknown, cb: (err: grpc.ServiceError | null, r: Join) => void): void;
};

function client(addr: string): Client {
  const def = protoLoader.loadSync(path.join(ROOT, 'proto/gateway/v1/backend.proto'), { keepCase: false, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { gateway: { v1: { GatewayBackend: grpc.ServiceClientConstructor } } };
  return new pkg.gateway.v1.GatewayBackend(addr, grpc.credentials.createInsecure()) as unknown as Client;
}

const session = { sid: 's-1', bizId: 'it-demo', userId: 'alice', deviceId: 'd1', name: 'Alice', ip: '127.0.0.1', node: 'n1' };

describe('example backend (real etcd)', () => {
  let etcd: Etcd3;
  let backend: BackendProcess;
  let c: Client;
  const call = (body: string | object) =>
    new Promise<Reply>((resolve, reject) =>
      c.Request({ session, id: '1', body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) }, (err, r) => (err ? reject(err) : resolve(r))),
    );
  const join = (room: string) => new Promise<Join>((resolve, reject) => c.AuthorizeJoin({ session, room }, (err, r) => (err ? reject(err) : resolve(r))));
  const key = () => `${backend.etcdPrefix}it-demo/${backend.instance}`;

  before(async () => {
    etcd = new Etcd3({ hosts: ETCD_ENDPOINT, dialTimeout: 3000 });
    backend = await startBackend({ bizIds: ['it-demo', 'it-other'] });
    c = client(backend.addr);
  });
  after(async () => {
    c?.close();
    await backend?.stop('SIGKILL');
    if (backend) await etcd.delete().prefix(backend.etcdPrefix);
    etcd.close();
  });

  it('example backend registers every bizId on one lease with its real addr', async () => {
    assert.match(backend.addr, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(backend.addr, '127.0.0.1:0');
    const kvs = (await etcd.getAll().prefix(backend.etcdPrefix).exec()).kvs;
    assert.deepEqual(kvs.map((kv) => kv.key.toString()).sort(), [key(), `${backend.etcdPrefix}it-other/${backend.instance}`].sort());
    for (const kv of kvs) {
      assert.deepEqual(JSON.parse(kv.value.toString()), { addr: backend.addr });
      assert.notEqual(kv.lease, '0', 'on a lease');
    }
    assert.equal(kvs[0].lease, kvs[1].lease, 'one lease for the instance');
  });

  it('example backend answers echo, code pass-through, garbage, not JSON, unknown', async () => {
    const echo = await call({ echo: { n: 1 } });
    assert.equal(echo.code, 0);
    assert.deepEqual(JSON.parse(echo.body.toString()), { echo: { n: 1 }, instance: backend.instance });
    const code = await call({ code: 429, msg: 'slow down' });
    assert.deepEqual([code.code, code.msg], [429, 'slow down']);
    const garbage = await call({ garbage: true });
    assert.equal(garbage.code, 0);
    assert.throws(() => JSON.parse(garbage.body.toString('utf8')));
    const notJson = await call('{not json');
    assert.deepEqual([notJson.code, notJson.msg], [400, 'body is not JSON']);
    const unknown = await call({ what: 1 });
    assert.deepEqual([unknown.code, unknown.msg], [400, 'unknown request']);
    const slept = await call({ sleepMs: 20 });
    assert.deepEqual(JSON.parse(slept.body.toString()), { slept: 20 });
  });

  it('example backend refuses private.* rooms and allows the others', async () => {
    const closed = await join('private.board');
    assert.equal(closed.allowed, false);
    assert.match(closed.msg, /private/);
    assert.equal((await join('lobby')).allowed, true);
  });

  it('example backend on SIGTERM revokes its lease: the key is gone within 1 s, exit 0', async () => {
    const watcher = await etcd.watch().key(key()).create();
    const gone = new Promise<number>((resolve) => watcher.on('delete', () => resolve(Date.now())));
    const started = Date.now();
    const exited = backend.stop('SIGTERM');
    const at = await Promise.race([gone, new Promise<number>((resolve) => setTimeout(() => resolve(NaN), 1000))]);
    await watcher.cancel();
    assert.ok(at - started < 1000, `key deleted ${at - started} ms after SIGTERM (lease TTL is 5 s)`);
    assert.equal(await etcd.get(key()).string(), null);
    assert.deepEqual(await exited, { code: 0, signal: null });
  });
});
