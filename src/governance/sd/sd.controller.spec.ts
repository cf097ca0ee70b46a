import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { hostPortOf, NodeInfo } from '../../cluster/node-registry';
import { targetGroups } from './sd.controller';

const node = (id: string, adminUrl: string, state: NodeInfo['state'] = 'running'): NodeInfo => ({
  id,
  wsUrl: `ws://${id}:9002/ws`,
  adminUrl,
  online: 0,
  users: 0,
  capacity: 10000,
  state,
  startedAt: 0,
  updatedAt: 0,
});

describe('Prometheus HTTP service discovery', () => {
  it('gives one target group per node: the governance host:port, labelled with the node id', () => {
    const groups = targetGroups([node('gw-b', 'http://10.0.0.2:9003', 'draining'), node('gw-a', 'http://10.0.0.1:9003')]);
    assert.deepEqual(groups, [
      {
        targets: ['10.0.0.1:9003'],
        labels: { node: 'gw-a', __meta_gateway_state: 'running', __meta_gateway_ws_url: 'ws://gw-a:9002/ws', __meta_gateway_capacity: '10000' },
      },
      {
        targets: ['10.0.0.2:9003'],
        labels: { node: 'gw-b', __meta_gateway_state: 'draining', __meta_gateway_ws_url: 'ws://gw-b:9002/ws', __meta_gateway_capacity: '10000' },
      },
    ]);
  });

  it('an empty registry is an empty list (Prometheus drops every target), not an error', () => {
    assert.deepEqual(targetGroups([]), []);
  });

  it('writes the port even when it is the scheme default, and keeps IPv6 brackets', () => {
    assert.equal(hostPortOf('http://gateway:9003'), 'gateway:9003');
    assert.equal(hostPortOf('http://gateway'), 'gateway:80');
    assert.equal(hostPortOf('https://gateway'), 'gateway:443');
    assert.equal(hostPortOf('http://[::1]:9003'), '[::1]:9003');
    assert.equal(hostPortOf('wss://gateway/ws'), 'gateway:443');
  });
});
