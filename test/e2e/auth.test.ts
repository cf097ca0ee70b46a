import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { adminApi } from '../fixtures/admin';
import { GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import { hsToken, keyPairFiles, KeyPairFiles, keyToken, noneToken } from '../fixtures/tokens';
import { ConnectOptions, TestClient, upgradeRefusal } from '../fixtures/ws-client';

const T = { timeout: 20000 };
const H = { timeout: 40000 };
const ALLOWED_ORIGIN = 'https://app.example.com';

describe('upgrade admission', () => {
  const prefixes = uniquePrefixes('auth');
  let keys: KeyPairFiles;
  let gw: GatewayProcess;
  /** a node with room for one link and 3 upgrades per source address per minute */
  let small: GatewayProcess;
  const clients: TestClient[] = [];

  before(async () => {
    keys = keyPairFiles();
    [gw, small] = await Promise.all([
      startGateway({
        ...prefixes,
        GATEWAY_AUTH_PUBLIC_KEYS: `${keys.rsa.pemPath},${keys.ec.pemPath}`,
        GATEWAY_AUTH_ALGORITHMS: 'HS256,RS256,ES256',
        GATEWAY_UPGRADER_ALLOWED_ORIGINS: `${ALLOWED_ORIGIN},https://admin.example.com`,
      }),
      startGateway({
        ...prefixes,
        GATEWAY_GATEWAY_MAX_CONNECTIONS: '1',
        GATEWAY_UPGRADER_RATE_PER_IP: '3',
        GATEWAY_UPGRADER_RATE_WINDOW_SEC: '60',
      }),
    ]);
  }, H);
  after(async () => {
    for (const c of clients) c.terminate();
    await Promise.all([gw?.stop(), small?.stop()]);
    keys?.remove();
    await cleanupPrefixes(prefixes);
  }, H);

  const claims = { sub: 'alice', biz: 'shop', did: 'phone-1', name: 'Alice' };

  /** The upgrade is refused with 401 and a JSON body saying why. */
  async function assert401(opts: ConnectOptions, why?: RegExp) {
    const r = await upgradeRefusal(gw.wsUrl, opts);
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.match(String(r.headers['content-type']), /application\/json/);
    assert.equal(r.body.error, 'unauthorized');
    assert.equal(typeof r.body.message, 'string');
    if (why) assert.match(r.body.message, why);
  }

  it('refuses an upgrade without a token with 401 and a JSON body', T, () => assert401({}, /no token/));
  it('refuses a garbage token with 401', T, () => assert401({ token: 'garbage.not.a-jwt' }));
  it('refuses an expired token with 401', T, () => assert401({ token: hsToken({ ...claims, expiresInSec: -120 }) }, /expired/));
  it('refuses a token signed with another secret with 401', T, () => assert401({ token: hsToken(claims, 'some-other-secret-0123456789') }, /signature/));
  it('refuses an unsigned (alg none) token with 401', T, () => assert401({ token: noneToken(claims) }, /none/));
  it('refuses a token without the biz claim with 401', T, () => assert401({ token: hsToken({ sub: 'alice' }) }, /biz/));
  it('refuses an RS256 token signed by a key the node does not know with 401', T, () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return assert401({ token: keyToken(claims, stranger.privateKey, 'RS256') }, /signature/);
  });

  async function assertAccepted(opts: ConnectOptions, expect: { userId: string; bizId: string }) {
    const { client, connected } = await TestClient.open(gw.wsUrl, opts);
    clients.push(client);
    assert.equal(connected.type, 'connected');
    assert.equal(typeof connected.sid, 'string');
    assert.ok(connected.sid.length >= 16);
    assert.equal(connected.node, gw.nodeId);
    assert.equal(connected.heartbeatMs, 25000);
    // the link is known under the identity the token carried
    const s = await adminApi(gw.adminUrl).client(connected.sid);
    assert.equal(s.status, 200);
    assert.equal(s.body.userId, expect.userId);
    assert.equal(s.body.bizId, expect.bizId);
    assert.deepEqual(await client.request('r', 1), {
      type: 'ack',
      id: 'r',
      code: 0,
      body: 1,
    });
    await client.close();
    return connected;
  }

  it('accepts a token in the Authorization header; the first frame is connected {sid,node,heartbeatMs}', T, async () => {
    await assertAccepted(
      {
        token: hsToken({ ...claims, sub: 'via-header' }),
        tokenVia: 'header',
      },
      { userId: 'via-header', bizId: 'shop' },
    );
  });
  it('accepts a token in ?token=', T, async () => {
    await assertAccepted({ token: hsToken({ ...claims, sub: 'via-query' }), tokenVia: 'query' }, { userId: 'via-query', bizId: 'shop' });
  });
  it('accepts a token in the subprotocol bearer.<jwt> offered alone (as a browser does)', T, async () => {
    // a client that offered subprotocols must get one back, or it fails the handshake (browsers and ws alike)
    await assertAccepted(
      {
        token: hsToken({ ...claims, sub: 'via-protocol' }),
        tokenVia: 'protocol',
      },
      { userId: 'via-protocol', bizId: 'shop' },
    );
  });
  it('accepts a token in the subprotocol bearer.<jwt> next to gateway.json', T, async () => {
    await assertAccepted(
      {
        token: hsToken({ ...claims, sub: 'via-protocol-json' }),
        tokenVia: 'protocol',
        protocols: ['gateway.json'],
      },
      { userId: 'via-protocol-json', bizId: 'shop' },
    );
  });
  it('accepts RS256 and ES256 tokens signed with the configured public keys', T, async () => {
    await assertAccepted(
      {
        token: keyToken({ ...claims, sub: 'rsa-user' }, keys.rsa.privateKey, 'RS256'),
      },
      { userId: 'rsa-user', bizId: 'shop' },
    );
    await assertAccepted(
      {
        token: keyToken({ ...claims, sub: 'ec-user' }, keys.ec.privateKey, 'ES256'),
      },
      { userId: 'ec-user', bizId: 'shop' },
    );
  });

  it('refuses an Origin that is not allowed with 403 and accepts an allowed one', T, async () => {
    const token = hsToken(claims);
    const r = await upgradeRefusal(gw.wsUrl, {
      token,
      origin: 'https://evil.example.net',
    });
    assert.equal(r.status, 403);
    assert.equal(r.body.error, 'forbidden_origin');
    await assertAccepted({ token, origin: ALLOWED_ORIGIN }, { userId: 'alice', bizId: 'shop' });
  });

  it('refuses a wrong path with 404', T, async () => {
    const r = await upgradeRefusal(gw.wsUrl.replace(/\/ws$/, '/not-the-ws-path'), { token: hsToken(claims) });
    assert.equal(r.status, 404);
    assert.equal(r.body.error, 'not_found');
  });

  // on the small node; this one first, while it holds no link (a full node answers 503 before counting)
  it('refuses upgrades past the per-IP rate with 429', T, async () => {
    const from = { localAddress: '127.0.0.2' };
    const token = hsToken(claims);
    // three refusals for another reason still count against the address
    for (let i = 0; i < 3; i++) assert.equal((await upgradeRefusal(small.wsUrl, from)).status, 401);
    const limited = await upgradeRefusal(small.wsUrl, { ...from, token });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error, 'rate_limited');
    assert.ok(limited.headers['retry-after']);
    // another address has its own budget (refused for its missing token, not for the rate)
    assert.equal((await upgradeRefusal(small.wsUrl, { localAddress: '127.0.0.3' })).status, 401);
  });

  it('refuses upgrades with 503 when the node is full', T, async () => {
    const from = { localAddress: '127.0.0.4' };
    const { client } = await TestClient.open(small.wsUrl, {
      ...from,
      token: hsToken(claims),
    });
    clients.push(client);
    const r = await upgradeRefusal(small.wsUrl, {
      ...from,
      token: hsToken({ ...claims, sub: 'bob' }),
    });
    assert.equal(r.status, 503);
    assert.equal(r.body.error, 'full');
    assert.equal(client.isClosed, false);
    assert.deepEqual(await client.request('still', 1), {
      type: 'ack',
      id: 'still',
      code: 0,
      body: 1,
    });
  });
});
