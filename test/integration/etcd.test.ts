import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { NodeInfo } from '../../src/cluster/node-registry';
import { EtcdConnection } from '../../src/infra/etcd/etcd.connection';
import { EtcdNodeRegistry } from '../../src/infra/etcd/etcd-node.registry';

// Against the real etcd that scripts/deps.sh runs (or GATEWAY_ETCD_ENDPOINTS).
const endpoints = (process.env.GATEWAY_ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',');

const info = (id: string, online = 0): NodeInfo => ({
  id,
  wsUrl: `ws://127.0.0.1:1/${id}`,
  adminUrl: 'http://127.0.0.1:2',
  online,
  users: online,
  capacity: 100,
  state: 'running',
  startedAt: Date.now(),
  updatedAt: Date.now(),
});

describe('etcd node registry (real etcd)', () => {
  const prefix = `/it-${randomUUID()}/gateway/nodes/`;
  let etcd: EtcdConnection;
  before(async () => {
    etcd = new EtcdConnection(endpoints);
    await etcd.ping(3000);
  });
  after(async () => {
    await etcd.client.delete().prefix(prefix.split('/gateway')[0]);
    etcd.close();
  });

  it('registers on a lease with the DESIGN.md fields, updates load, and deregisters at once', async () => {
    const reg = new EtcdNodeRegistry(etcd, prefix, 10);
    await reg.register(info('n1'));
    const raw = JSON.parse((await etcd.client.get(`${prefix}n1`).string())!);
    for (const field of ['wsUrl', 'adminUrl', 'online', 'capacity', 'state']) assert.ok(field in raw, field);
    const lease = await etcd.client.get(`${prefix}n1`).exec();
    assert.notEqual(lease.kvs[0].lease, '0', 'the key must be on a lease');
    await reg.update(info('n1', 42));
    assert.equal((await reg.list()).find((n) => n.id === 'n1')?.online, 42);
    await reg.deregister();
    assert.equal(await etcd.client.get(`${prefix}n1`).string(), null);
  });

  it('a node whose process dies (SIGKILL) leaves the registry when its lease expires', async () => {
    const registryModule = require.resolve('../../src/infra/etcd/etcd-node.registry');
    const connectionModule = require.resolve('../../src/infra/etcd/etcd.connection');
    const script = `
      const { EtcdNodeRegistry } = require(${JSON.stringify(registryModule)});
      const { EtcdConnection } = require(${JSON.stringify(connectionModule)});
      const reg = new EtcdNodeRegistry(new EtcdConnection(${JSON.stringify(endpoints)}), ${JSON.stringify(prefix)}, 2);
      reg.register(${JSON.stringify(info('n-dies'))}).then(() => process.stdout.write('registered\\n'));`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('registered') && resolve());
      child.once('exit', (code) => reject(new Error(`registrant exited early (${code})`)));
    });
    const watcher = await etcd.client.watch().key(`${prefix}n-dies`).create();
    const gone = new Promise<void>((resolve) => watcher.on('delete', () => resolve()));
    assert.ok((await new EtcdNodeRegistry(etcd, prefix, 10).list()).some((n) => n.id === 'n-dies'));
    const started = Date.now();
    child.kill('SIGKILL');
    await gone;
    await watcher.cancel();
    assert.ok(Date.now() - started < 10000, 'lease expiry must remove the entry within the TTL bound');
    assert.equal(
      (await new EtcdNodeRegistry(etcd, prefix, 10).list()).some((n) => n.id === 'n-dies'),
      false,
    );
  });
});
