import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { clientAddress, TrustedProxies } from './client-address';

const req = (peer: string, xff?: string | string[]) =>
  ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as never;

describe('clientAddress', () => {
  const trusted = new TrustedProxies(['10.0.0.1', '10.0.0.2']);

  it('is the socket peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    assert.equal(clientAddress(req('203.0.113.7', '198.51.100.1'), new TrustedProxies([])), '203.0.113.7');
  });

  it('is the socket peer when the peer is not a trusted proxy', () => {
    assert.equal(clientAddress(req('203.0.113.7', '198.51.100.1'), trusted), '203.0.113.7');
  });

  it('is the address a trusted proxy forwarded', () => {
    assert.equal(clientAddress(req('10.0.0.1', '198.51.100.1'), trusted), '198.51.100.1');
    assert.equal(clientAddress(req('::ffff:10.0.0.1', '198.51.100.1'), trusted), '198.51.100.1');
  });

  it('walks back over a chain of trusted proxies and believes nothing the client wrote', () => {
    // the client wrote "1.1.1.1"; proxy 10.0.0.2 appended the real client; 10.0.0.1 appended 10.0.0.2
    assert.equal(clientAddress(req('10.0.0.1', '1.1.1.1, 198.51.100.9, 10.0.0.2'), trusted), '198.51.100.9');
    assert.equal(clientAddress(req('10.0.0.1', ['1.1.1.1', '198.51.100.9']), trusted), '198.51.100.9');
  });

  it('stops at a malformed entry and keeps the last believed address', () => {
    assert.equal(clientAddress(req('10.0.0.1', 'nonsense, 10.0.0.2'), trusted), '10.0.0.2');
    assert.equal(clientAddress(req('10.0.0.1', 'nonsense'), trusted), '10.0.0.1');
    assert.equal(clientAddress(req('10.0.0.1'), trusted), '10.0.0.1');
  });

  it('trusts whole networks (containers), IPv4 and IPv6', () => {
    const nets = new TrustedProxies(['172.16.0.0/12', 'fd00::/8']);
    assert.equal(clientAddress(req('172.18.0.5', '198.51.100.3'), nets), '198.51.100.3');
    assert.equal(clientAddress(req('fd00::7', '2001:db8::1'), nets), '2001:db8::1');
    assert.equal(clientAddress(req('172.32.0.1', '198.51.100.3'), nets), '172.32.0.1', 'outside the network: the peer');
    assert.throws(() => new TrustedProxies(['not-an-address']), /not an address or a network/);
  });
});
