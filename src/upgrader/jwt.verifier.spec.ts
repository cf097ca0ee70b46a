import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import * as jwt from 'jsonwebtoken';
import { loadConfig } from '../config/config.loader';
import { GatewayConfig } from '../config/gateway.config';
import { JwtVerifier, TokenError } from './jwt.verifier';

const SECRET = 'unit-test-secret-0123456789';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = (k: import('node:crypto').KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString();

function verifier(env: Record<string, string> = {}) {
  const { config } = loadConfig({ cwd: '/', env: { GATEWAY_JWT_SECRET: SECRET, ...env } });
  return new JwtVerifier(GatewayConfig.from({ ...config, auth: { ...config.auth, publicKeys: [pem(rsa.publicKey), pem(ec.publicKey)] } }));
}
const claims = { sub: 'u1', biz: 'b1', did: 'phone', name: 'Ann' };
const exp = () => Math.floor(Date.now() / 1000) + 60;

describe('jwt verifier', () => {
  const v = verifier();

  it('maps claims to the identity for HS256, RS256 and ES256', () => {
    for (const token of [
      jwt.sign({ ...claims, exp: exp() }, SECRET, { algorithm: 'HS256' }),
      jwt.sign({ ...claims, exp: exp() }, rsa.privateKey, { algorithm: 'RS256' }),
      jwt.sign({ ...claims, exp: exp() }, ec.privateKey, { algorithm: 'ES256' }),
    ]) {
      const id = v.verify(token);
      assert.deepEqual({ ...id, expiresAt: undefined }, { userId: 'u1', bizId: 'b1', deviceId: 'phone', name: 'Ann', expiresAt: undefined });
      assert.ok(id.expiresAt > Date.now());
    }
  });

  it('refuses expired, not-yet-valid, wrongly signed, unsigned and claim-less tokens with a reason', () => {
    const now = Math.floor(Date.now() / 1000);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cases: [string, RegExp][] = [
      [jwt.sign({ ...claims, exp: now - 60 }, SECRET), /expired/],
      [jwt.sign({ ...claims, exp: exp(), nbf: now + 600 }, SECRET), /not yet valid/],
      [jwt.sign({ ...claims, exp: exp() }, 'another-secret-0123456789'), /invalid signature/],
      [jwt.sign({ ...claims, exp: exp() }, other.privateKey, { algorithm: 'RS256' }), /invalid signature/],
      [jwt.sign({ ...claims, exp: exp() }, '', { algorithm: 'none' }), /algorithm none is not allowed/],
      [jwt.sign({ sub: 'u1', exp: exp() }, SECRET), /"biz"/],
      [jwt.sign({ biz: 'b1', exp: exp() }, SECRET), /"sub"/],
      [jwt.sign({ ...claims, sub: 'has space', exp: exp() }, SECRET), /"sub"/],
      [jwt.sign({ ...claims }, SECRET), /"exp" is required/],
      ['not-a-jwt', /not a JWT/],
      ['', /missing/],
    ];
    for (const [token, reason] of cases)
      assert.throws(
        () => v.verify(token),
        (e: Error) => e instanceof TokenError && reason.test(e.message),
        String(reason),
      );
  });

  it('honours the algorithm allow-list', () => {
    const hsOnly = verifier({ GATEWAY_AUTH_ALGORITHMS: 'HS256' });
    assert.throws(() => hsOnly.verify(jwt.sign({ ...claims, exp: exp() }, rsa.privateKey, { algorithm: 'RS256' })), /RS256 is not allowed/);
    assert.throws(() => hsOnly.verify(jwt.sign({ ...claims, exp: exp() }, SECRET, { algorithm: 'HS512' })), /HS512 is not allowed/);
  });
});
