import { strict as assert } from 'node:assert';
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as Sdk from '../../src/client/index';
import { adminApi, AdminApi } from '../fixtures/admin';
import { freePort, GatewayProcess, JWT_SECRET, ROOT, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import { hsToken, shortToken } from '../fixtures/tokens';
import { TestClient } from '../fixtures/ws-client';

// the shipped Node bundle (dist/client/index.js), not the tsc output: what users get is what is tested
const { GatewayClient } = require(path.join(ROOT, 'dist/client/index.js')) as typeof Sdk;
type Client = InstanceType<typeof GatewayClient>;

const T = { timeout: 30000 };
const H = { timeout: 60000 };

/** Resolves with the args of the first `event` that satisfies `pick`; rejects after `timeoutMs` saying what it saw. */
function next<E extends Sdk.ClientEventName>(
  client: Client,
  event: E,
  pick: (...args: Sdk.ClientEvents[E]) => boolean = () => true,
  timeoutMs = 10000,
): Promise<Sdk.ClientEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${client.name}: no matching "${event}" within ${timeoutMs} ms (state ${client.state})`));
    }, timeoutMs);
    const off = client.on(event, (...args: Sdk.ClientEvents[E]) => {
      if (!pick(...args)) return;
      clearTimeout(timer);
      off();
      resolve(args);
    });
  });
}

/** Collects the pushes a client receives; `until(n)` resolves once it holds n of them. */
function collect(client: Client) {
  const pushes: Sdk.Push[] = [];
  const waiters: { n: number; resolve(): void }[] = [];
  client.on('push', (p) => {
    pushes.push(p);
    for (const w of [...waiters]) if (pushes.length >= w.n) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  });
  return {
    pushes,
    bodies: () => pushes.map((p) => p.body),
    until(n: number, timeoutMs = 10000): Promise<void> {
      if (pushes.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${client.name}: ${pushes.length} pushes, wanted ${n}: ${JSON.stringify(pushes)}`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
  };
}

describe('client SDK against one embedded node', () => {
  let gw: GatewayProcess;
  let api: AdminApi;
  const clients: Client[] = [];
  const make = (opts: Partial<Sdk.GatewayClientOptions> & { user?: string }) => {
    const { user = 'u', ...rest } = opts;
    const c = new GatewayClient({ url: gw.wsUrl, token: hsToken({ sub: user, biz: 'sdk' }), name: user, ...rest });
    clients.push(c);
    return c;
  };

  // biz `mute` has a backend that accepts connections and never answers: its requests get no ack for backend.timeoutMs (5 s)
  const held: net.Socket[] = [];
  const mute = net.createServer((socket) => void held.push(socket));
  let env: Record<string, string>;

  before(async () => {
    const port = await freePort();
    await new Promise<void>((resolve) => mute.listen(port, '127.0.0.1', resolve));
    env = { GATEWAY_MODE: 'embedded', GATEWAY_BACKEND_STATIC: `mute=127.0.0.1:${port}` };
    gw = await startGateway(env);
    api = adminApi(gw.adminUrl);
  }, H);
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw?.stop();
    for (const s of held) s.destroy();
    mute.close();
  }, H);

  it('connects, gets the ack of a request, and receives a push from POST /api/push with its cursor', T, async () => {
    const c = make({ user: 'alice' });
    const got = collect(c);
    const info = await c.connect();
    assert.equal(info.node, gw.nodeId);
    assert.equal(c.state, 'connected');
    assert.deepEqual(await c.request({ hello: 'world' }), { code: 0, body: { hello: 'world' } });
    const r = await api.push({ bizId: 'sdk', to: { users: ['alice'] }, body: { n: 1 } });
    assert.equal(r.status, 202, r.text);
    await got.until(1);
    assert.deepEqual(got.pushes[0].body, { n: 1 });
    assert.equal(typeof got.pushes[0].epoch, 'string');
    assert.deepEqual(c.cursor, { epoch: got.pushes[0].epoch, seq: got.pushes[0].seq });
  });

  it('speaks protobuf: request, push, join and a room push', T, async () => {
    const c = make({ user: 'pb', codec: 'protobuf' });
    const got = collect(c);
    await c.connect();
    assert.deepEqual(await c.request(['a', { b: 2 }]), { code: 0, body: ['a', { b: 2 }] });
    assert.equal((await c.join('lobby')).code, 0);
    assert.equal((await c.join('bad room!')).code, 400);
    await api.push({ bizId: 'sdk', to: { users: ['pb'] }, body: 'to the user' });
    await got.until(1);
    await api.push({ bizId: 'sdk', to: { room: 'lobby' }, body: 'to the room' });
    await got.until(2);
    assert.deepEqual(got.bodies(), ['to the user', 'to the room']);
    assert.equal(got.pushes[0].seq, 1);
    assert.equal(got.pushes[1].room, 'lobby');
  });

  it('a request that gets no ack in time rejects with a timeout naming it; the link goes on', T, async () => {
    const c = new GatewayClient({ url: gw.wsUrl, token: hsToken({ sub: 'slow', biz: 'mute' }), name: 'slow' });
    clients.push(c);
    await c.connect();
    await assert.rejects(
      c.request('x', { timeoutMs: 300 }),
      (e: Sdk.GatewayClientError) => e.code === 'timeout' && /slow: no ack for r\w+ within 300 ms/.test(e.message),
    );
    assert.equal(c.state, 'connected');
    assert.equal((await c.join('still-usable')).code, 0);
  });

  it('kicked (4003): disconnected with the code and reason, closed, and never reconnects', T, async () => {
    const c = make({ user: 'kicked', minReconnectDelay: 50, maxReconnectDelay: 100 });
    const info = await c.connect();
    const disconnected = next(c, 'disconnected');
    const r = await api.kick(info.sid, 'go away');
    assert.equal(r.status, 200, r.text);
    const [d] = await disconnected;
    assert.deepEqual(d, { code: 4003, reason: 'go away', willReconnect: false });
    assert.equal(c.state, 'closed');
    // the proof it did not come back: another link of the user gets a push, and is the user's only link
    const { client: other } = await TestClient.open(gw.wsUrl, { token: hsToken({ sub: 'kicked', biz: 'sdk' }) });
    try {
      await api.push({ bizId: 'sdk', to: { users: ['kicked'] }, body: 'after the kick' });
      assert.equal((await other.next('push')).body, 'after the kick');
      const links = await api.clients({ biz: 'sdk', user: 'kicked' });
      assert.equal(links.body.items.length, 1, JSON.stringify(links.body));
      assert.equal(c.state, 'closed');
    } finally {
      other.terminate();
    }
  });

  it('with getToken and a 2 s token: refreshes it on the link (token frame) and outlives the first exp', T, async () => {
    const issued: { token: string; expiresAt: number }[] = [];
    let pastFirstExp!: () => void;
    const pastFirst = new Promise<void>((resolve) => (pastFirstExp = resolve));
    const c = make({
      user: 'fresh',
      token: undefined,
      tokenRefreshLeadMs: 30000,
      getToken: () => {
        const t = shortToken({ sub: 'fresh', biz: 'sdk' }, 2000);
        issued.push(t);
        // the node closes a link with 4001 at its token's exp: half a second past it with the link up, the refresh worked
        if (Date.now() > issued[0].expiresAt + 500) pastFirstExp();
        return t.token;
      },
    });
    let drops = 0;
    c.on('disconnected', () => drops++);
    const first = await c.connect();
    await pastFirst;
    assert.ok(issued.length >= 3, `tokens issued: ${issued.length}`);
    assert.deepEqual(await c.request('still here'), { code: 0, body: 'still here' });
    assert.equal(drops, 0, 'the link never dropped');
    assert.equal(c.connection?.sid, first.sid, 'same link throughout');
  });

  it('the node restarted (in-memory mailbox lost): reconnects with backoff, gets resync epoch_changed, then new pushes', H, async () => {
    const c = make({ user: 'restart', minReconnectDelay: 100, maxReconnectDelay: 400 });
    const got = collect(c);
    await c.connect();
    await api.push({ bizId: 'sdk', to: { users: ['restart'] }, body: 'before' });
    await got.until(1);
    const before = c.cursor!;
    const gone = next(c, 'disconnected');
    await gw.stop();
    const [d] = await gone;
    assert.equal(d.willReconnect, true);
    assert.equal(d.code, 1001, 'SIGTERM: going away');
    gw = await startGateway({ ...env, GATEWAY_PORT: String(gw.port), GATEWAY_GOVERNANCE_PORT: String(gw.governancePort) });
    api = adminApi(gw.adminUrl);
    const [resync] = await next(c, 'resync', undefined, 15000);
    assert.equal(resync.reason, 'epoch_changed');
    assert.deepEqual(resync.previous, before);
    assert.notEqual(resync.epoch, before.epoch);
    assert.equal(c.connection?.resumedFrom?.epoch, before.epoch, 'it reconnected with its cursor');
    await api.push({ bizId: 'sdk', to: { users: ['restart'] }, body: 'after' });
    await got.until(2);
    assert.deepEqual(got.bodies(), ['before', 'after']);
    assert.equal(got.pushes[1].seq, 1, 'the new epoch starts over');
  });

  describe('the CLI (node dist/src/client/cli.js)', () => {
    const CLI = path.join(ROOT, 'dist/src/client/cli.js');

    /** Lines of a stream, awaitable one at a time. */
    function lines(stream: NodeJS.ReadableStream) {
      const buffered: string[] = [];
      const waiters: ((l: string) => void)[] = [];
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        for (const l of parts) {
          const w = waiters.shift();
          if (w) w(l);
          else buffered.push(l);
        }
      });
      return {
        all: buffered,
        next(what: string, timeoutMs = 10000): Promise<string> {
          const l = buffered.shift();
          if (l !== undefined) return Promise.resolve(l);
          return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no ${what} line within ${timeoutMs} ms`)), timeoutMs);
            waiters.push((line) => (clearTimeout(timer), resolve(line)));
          });
        },
        async until(pattern: RegExp, what: string): Promise<string> {
          for (;;) {
            const l = await this.next(what);
            if (pattern.test(l)) return l;
          }
        },
      };
    }
    const run = (args: string[]): { child: ChildProcessWithoutNullStreams; exit: Promise<number | null> } => {
      const child = spawn(process.execPath, [CLI, ...args], { stdio: 'pipe', env: { ...process.env, GATEWAY_JWT_SECRET: '' } });
      const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      return { child, exit };
    };

    it('--user/--biz/--secret: prints a push as a JSON line, sends a stdin line as a req and prints its ack; SIGINT exits 0', T, async () => {
      const { child, exit } = run(['--url', gw.wsUrl, '--user', 'cli-user', '--biz', 'sdk', '--secret', JWT_SECRET, '--name', 'Cli User']);
      try {
        const out = lines(child.stdout);
        const err = lines(child.stderr);
        await err.until(/\[Cli User\] connected sid=/, 'connected log');
        const r = await api.push({ bizId: 'sdk', to: { users: ['cli-user'] }, body: { hi: 1 } });
        assert.equal(r.status, 202, r.text);
        const push = JSON.parse(await out.next('push'));
        assert.equal(push.type, 'push');
        assert.equal(push.client, 'Cli User');
        assert.deepEqual(push.body, { hi: 1 });
        assert.equal(push.seq, 1);
        child.stdin.write('{"ask":42}\nplain words\n');
        assert.deepEqual(JSON.parse(await out.next('ack')), { type: 'ack', client: 'Cli User', line: 1, code: 0, body: { ask: 42 } });
        assert.deepEqual(JSON.parse(await out.next('ack')), { type: 'ack', client: 'Cli User', line: 2, code: 0, body: 'plain words' });
        // the display name came from --name through the token's name claim
        const links = await api.clients({ biz: 'sdk', user: 'cli-user' });
        assert.equal(links.body.items[0].name, 'Cli User');
        child.kill('SIGINT');
        assert.equal(await exit, 0);
      } finally {
        child.kill('SIGKILL');
      }
    });

    it('--count 3 starts three named clients of users <user>-1..3, each printing its pushes', T, async () => {
      const { child, exit } = run([
        '--url',
        gw.wsUrl,
        '--user',
        'many',
        '--biz',
        'sdk',
        '--secret',
        JWT_SECRET,
        '--name',
        'm',
        '--count',
        '3',
        '--codec',
        'protobuf',
      ]);
      try {
        const out = lines(child.stdout);
        const err = lines(child.stderr);
        for (let i = 0; i < 3; i++) await err.until(/connected sid=/, 'connected log');
        await api.push([1, 2, 3].map((i) => ({ bizId: 'sdk', to: { users: [`many-${i}`] }, body: i })));
        const got = await Promise.all([out.next('push 1'), out.next('push 2'), out.next('push 3')]);
        assert.deepEqual(
          got
            .map((l) => JSON.parse(l))
            .map((p: { client: string; body: number }) => `${p.client}:${p.body}`)
            .sort(),
          ['m-1:1', 'm-2:2', 'm-3:3'],
        );
        child.kill('SIGINT');
        assert.equal(await exit, 0);
      } finally {
        child.kill('SIGKILL');
      }
    });

    for (const [args, why] of [
      [['--url', 'ws://127.0.0.1:1/ws'], /give --token, or --user/],
      [['--url', 'ws://127.0.0.1:1/ws', '--user', 'u', '--biz', 'b'], /needs --secret/],
      [['--url', 'ws://127.0.0.1:1/ws', '--token', 't', '--user', 'u'], /not both/],
      [['--url', 'ws://127.0.0.1:1/ws', '--token', 't', '--count', 'lots'], /--count must be a whole number/],
      [['--token', 't'], /required option '--url/],
    ] as const) {
      it(`bad flags exit 2 with a clear message: ${args.join(' ')}`, T, async () => {
        const { child, exit } = run([...args]);
        const err = lines(child.stderr);
        assert.equal(await exit, 2);
        assert.match(err.all.join('\n'), why);
      });
    }
  });
});

describe('client SDK against two cluster nodes (Redis mailbox): nothing lost, nothing twice', () => {
  const prefixes = uniquePrefixes('sdk');
  let a: GatewayProcess;
  let b: GatewayProcess;
  const clients: Client[] = [];

  before(async () => {
    [a, b] = await Promise.all([startGateway(prefixes), startGateway(prefixes)]);
  }, H);
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([a?.stop(), b?.stop()]);
    await cleanupPrefixes(prefixes);
  }, H);

  it('node killed (SIGKILL) and restarted: the client comes back with ?resume= and gets what was pushed meanwhile, in order, once', H, async () => {
    const c = new GatewayClient({
      url: a.wsUrl,
      token: hsToken({ sub: 'kill', biz: 'sdk' }, JWT_SECRET),
      name: 'kill',
      minReconnectDelay: 100,
      maxReconnectDelay: 500,
    });
    clients.push(c);
    const got = collect(c);
    await c.connect();
    const apiB = adminApi(b.adminUrl);
    for (const n of [1, 2, 3]) await apiB.push({ bizId: 'sdk', to: { users: ['kill'] }, body: n });
    await got.until(3);
    const gone = next(c, 'disconnected');
    await a.stop('SIGKILL');
    assert.equal((await gone)[0].code, 1006);
    // while the node is dead the client cannot be connected: these go to the mailbox only
    for (const n of [4, 5, 6]) assert.equal((await apiB.push({ bizId: 'sdk', to: { users: ['kill'] }, body: n })).status, 202);
    const back = next(c, 'connected', undefined, 20000);
    a = await startGateway({ ...prefixes, GATEWAY_PORT: String(a.port), GATEWAY_GOVERNANCE_PORT: String(a.governancePort) });
    const [info] = await back;
    assert.deepEqual(info.resumedFrom, { epoch: got.pushes[2].epoch, seq: got.pushes[2].seq });
    await got.until(6);
    await apiB.push({ bizId: 'sdk', to: { users: ['kill'] }, body: 7 });
    await got.until(7);
    assert.deepEqual(got.bodies(), [1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(
      got.pushes.map((p) => p.seq),
      [1, 2, 3, 4, 5, 6, 7],
    );
  });

  it('node drained by SIGTERM: redirect to the peer, reconnect there at once with the cursor; a push sent mid-move arrives once', H, async () => {
    const c = new GatewayClient({ url: b.wsUrl, token: hsToken({ sub: 'moved', biz: 'sdk' }, JWT_SECRET), name: 'moved', codec: 'protobuf' });
    clients.push(c);
    const got = collect(c);
    await c.connect();
    const apiA = adminApi(a.adminUrl);
    await apiA.push({ bizId: 'sdk', to: { users: ['moved'] }, body: 'before' });
    await got.until(1);
    const redirected = next(c, 'redirect', undefined, 20000);
    const onPeer = next(c, 'connected', (i) => i.url === a.wsUrl, 20000);
    const stopped = b.stop('SIGTERM');
    const [redirect] = await redirected;
    assert.equal(redirect.url, a.wsUrl);
    assert.equal(redirect.reason, 'shutdown');
    // pushed between the redirect and the new link: stored, then replayed on the new link
    await apiA.push({ bizId: 'sdk', to: { users: ['moved'] }, body: 'mid-move' });
    const [info] = await onPeer;
    assert.equal(info.node, a.nodeId);
    assert.deepEqual(info.resumedFrom, { epoch: got.pushes[0].epoch, seq: got.pushes[0].seq });
    await apiA.push({ bizId: 'sdk', to: { users: ['moved'] }, body: 'after' });
    await got.until(3);
    assert.deepEqual(got.bodies(), ['before', 'mid-move', 'after']);
    await stopped;
  });
});
