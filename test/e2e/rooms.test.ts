import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { adminApi, AdminApi } from '../fixtures/admin';
import { GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';
import { hsToken } from '../fixtures/tokens';
import { AnyFrame, TestClient } from '../fixtures/ws-client';

const T = { timeout: 20000 };
const H = { timeout: 40000 };
const uid = (tag: string) => `${tag}-${randomUUID().slice(0, 8)}`;

/** joins of this biz need the backend's approval; the built-in echo backend refuses rooms named private.* */
const APPROVAL_BIZ = 'vault';
const FREE_BIZ = 'open';

describe('rooms: joins that need the backend approval (one node, rooms.approvalBizIds = vault)', () => {
  const prefixes = uniquePrefixes('rooms');
  let gw: GatewayProcess;
  let api: AdminApi;
  const clients: TestClient[] = [];

  const open = async (biz: string, user: string) => {
    const { client } = await TestClient.open(gw.wsUrl, { token: hsToken({ sub: user, biz }), label: `${user}@${biz}` });
    clients.push(client);
    return client;
  };
  const join = async (client: TestClient, room: string): Promise<AnyFrame> => {
    client.send({ type: 'join', room });
    return client.next('ack');
  };
  /** POST /api/push; resolves once the node has accepted and sent the push */
  const push = async (envelope: unknown) => {
    const r = await api.push(envelope);
    assert.equal(r.status, 202, JSON.stringify(r.body));
  };

  before(async () => {
    // pushes go through POST /api/push only: no Kafka consumer to wait for
    gw = await startGateway({ ...prefixes, GATEWAY_ROOMS_APPROVAL_BIZ_IDS: APPROVAL_BIZ, GATEWAY_PUSH_CONSUME: 'false' });
    api = adminApi(gw.adminUrl);
  }, H);
  after(async () => {
    for (const c of clients) c.terminate();
    await gw?.stop();
    await cleanupPrefixes(prefixes);
  }, H);

  it('refuses a client of that biz a private.* room with ack 403, and it gets none of the room pushes', T, async () => {
    const user = uid('refused');
    const client = await open(APPROVAL_BIZ, user);
    const ack = await join(client, 'private.x');
    assert.deepEqual([ack.id, ack.code], ['join:private.x', 403], JSON.stringify(ack));
    // the refusal recorded nothing: the user is no member, so none of its links follows the room
    const members = await api.get(`/api/rooms/private.x/members?biz=${APPROVAL_BIZ}`);
    assert.equal(members.status, 200, JSON.stringify(members.body));
    assert.deepEqual(members.body.items, []);

    await push({ bizId: APPROVAL_BIZ, to: { room: 'private.x' }, body: 'for members of private.x' });
    // sent after the room push on the user's own channel: the first push the link gets is this one
    await push({ bizId: APPROVAL_BIZ, to: { users: [user] }, body: 'marker' });
    const next = await client.next('push');
    assert.deepEqual([next.body, next.room], ['marker', undefined], JSON.stringify(next));
  });

  it('lets a client of that biz join a room outside private.* (ack 0), and it gets the room pushes', T, async () => {
    const client = await open(APPROVAL_BIZ, uid('member'));
    assert.deepEqual(await join(client, 'lobby'), { type: 'ack', id: 'join:lobby', code: 0 });
    await push({ bizId: APPROVAL_BIZ, to: { room: 'lobby' }, body: 'lobby news' });
    const got = await client.next('push');
    assert.deepEqual([got.body, got.room], ['lobby news', 'lobby'], JSON.stringify(got));
  });

  it('lets a client of a biz not in the list join private.x (ack 0), and it gets the room pushes', T, async () => {
    const client = await open(FREE_BIZ, uid('free'));
    assert.deepEqual(await join(client, 'private.x'), { type: 'ack', id: 'join:private.x', code: 0 });
    await push({ bizId: FREE_BIZ, to: { room: 'private.x' }, body: 'open secret' });
    const got = await client.next('push');
    assert.deepEqual([got.body, got.room], ['open secret', 'private.x'], JSON.stringify(got));
  });
});
