import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { adminApi } from '../fixtures/admin';
import { GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';

/**
 * Found by the fuzz tier (api-push/unknown-biz): with `push.bizIds` set, a Kafka record for
 * another biz goes to the DLQ as `unknown_biz`, but the same envelope on POST /api/push is
 * accepted (202) and pushed. docs/push.md: `bizId` "must be in push.bizIds when that list is
 * set", and /api/push takes "same envelope, same path"; README: "400 names the field at fault".
 */
describe('POST /api/push refuses a biz outside push.bizIds, as the Kafka path does (fuzz tier)', { timeout: 60_000 }, () => {
  const iso = uniquePrefixes('chaos-biz');
  let node: GatewayProcess;
  before(async () => {
    node = await startGateway({ ...iso, GATEWAY_PUSH_CONSUME: 'false', GATEWAY_PUSH_BIZ_IDS: 'shop', GATEWAY_LOG_LEVEL: 'warn' });
  });
  after(async () => {
    await node?.stop();
    await cleanupPrefixes(iso);
  });

  it('400 naming bizId', async () => {
    const r = await adminApi(node.adminUrl).push({ bizId: 'not-listed', to: { users: ['u'] }, body: 1 });
    assert.equal(r.status, 400, `POST /api/push {"bizId":"not-listed",...} with push.bizIds=shop answered ${r.status}: ${r.text}`);
    assert.ok(
      (r.body.problems ?? []).some((p: { field: string }) => p.field === 'bizId'),
      r.text,
    );
  });
});
