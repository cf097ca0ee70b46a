import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { adminApi, AdminApi } from '../fixtures/admin';
import { GatewayProcess, startGateway } from '../fixtures/gateway-process';
import { hsToken } from '../fixtures/tokens';
import { TestClient } from '../fixtures/ws-client';

const T = { timeout: 30000 };
const H = { timeout: 40000 };

/** One embedded node (no Redis, etcd or Kafka) serving the bizs shop and chat: the governance app's HTTP edge. */
describe('governance API: what it refuses and how', () => {
  let gw: GatewayProcess;
  let api: AdminApi;
  const clients: TestClient[] = [];

  before(async () => {
    gw = await startGateway({ GATEWAY_MODE: 'embedded', GATEWAY_PUSH_BIZ_IDS: 'shop,chat' });
    api = adminApi(gw.adminUrl);
  }, H);
  after(async () => {
    for (const c of clients) c.terminate();
    await gw?.stop();
  }, H);

  async function link(sub: string, biz: string): Promise<{ client: TestClient; sid: string }> {
    const { client, connected } = await TestClient.open(gw.wsUrl, { token: hsToken({ sub, biz }) });
    clients.push(client);
    return { client, sid: connected.sid };
  }

  describe('POST /api/push and push.bizIds', () => {
    it('refuses a biz outside push.bizIds with 400 naming bizId, reason unknown_biz, as the Kafka path dead-letters it', T, async () => {
      const r = await api.push({ bizId: 'elsewhere', to: { users: ['u'] }, body: 1 });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.error, 'bad_request');
      assert.deepEqual(r.body.problems, [{ field: 'bizId', message: 'biz elsewhere is not in push.bizIds', reason: 'unknown_biz' }]);
      assert.match(r.body.message, /^bizId: /);
    });

    it('refuses a whole batch with an unknown biz in it, naming its index, and sends none of it', T, async () => {
      const { client } = await link('ann', 'shop');
      const r = await api.push([
        { bizId: 'shop', to: { users: ['ann'] }, body: 'never' },
        { bizId: 'elsewhere', to: { users: ['ann'] }, body: 'never' },
      ]);
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(
        r.body.problems.map((p: { field: string; reason?: string }) => [p.field, p.reason]),
        [['1.bizId', 'unknown_biz']],
      );
      const ok = await api.push({ bizId: 'shop', to: { users: ['ann'] }, body: 'served' });
      assert.equal(ok.status, 202, ok.text);
      assert.equal((await client.next('push')).body, 'served', 'the first push to reach the link must be the accepted one');
    });
  });
});
