import { Injectable } from '@nestjs/common';
import * as jwt from 'jsonwebtoken';
import { createPublicKey, createSecretKey, KeyObject } from 'node:crypto';
import { GatewayConfig } from '../config/gateway.config';

/** Who the token says the client is (DESIGN.md claims: sub, biz, did, name, exp). */
export interface Identity {
  userId: string;
  bizId: string;
  deviceId?: string;
  name?: string;
  /** epoch ms; Infinity when the token has no exp (only with auth.allowNoExp) */
  expiresAt: number;
}

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

const ID = /^[\w.@:+-]{1,128}$/;

/**
 * Verifies client JWTs: HS256/384/512 against auth.jwtSecret, RS and ES algorithms against each of auth.publicKeys,
 * only the algorithms in auth.algorithms (so `none` and algorithm confusion are refused),
 * exp/nbf with auth.clockToleranceSec, optional iss/aud.
 */
@Injectable()
export class JwtVerifier {
  private readonly hmacAlgs: jwt.Algorithm[];
  private readonly keyAlgs: jwt.Algorithm[];
  /** prepared once: given a string, jsonwebtoken first tries to parse it as a PEM key (slow) */
  private readonly secret?: KeyObject;
  /** public keys by family: RS* verify against rsa keys only, ES* against ec keys only */
  private readonly keys: { rsa: KeyObject[]; ec: KeyObject[] } = { rsa: [], ec: [] };

  constructor(private readonly config: GatewayConfig) {
    const algs = config.auth.algorithms as jwt.Algorithm[];
    this.hmacAlgs = config.auth.jwtSecret ? algs.filter((a) => a.startsWith('HS')) : [];
    if (config.auth.jwtSecret) this.secret = createSecretKey(Buffer.from(config.auth.jwtSecret, 'utf8'));
    for (const pem of config.auth.publicKeys) {
      const key = createPublicKey(pem);
      if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'ec') this.keys[key.asymmetricKeyType].push(key);
      else throw new Error(`auth.publicKeys: unsupported key type ${key.asymmetricKeyType}`);
    }
    this.keyAlgs = algs.filter((a) => (a.startsWith('RS') && this.keys.rsa.length) || (a.startsWith('ES') && this.keys.ec.length));
  }

  verify(token: string): Identity {
    if (!token || token.length > 8192) throw new TokenError('missing or oversized token');
    const { auth } = this.config;
    const base: jwt.VerifyOptions = { clockTolerance: auth.clockToleranceSec, issuer: auth.issuer, audience: auth.audience };
    const header = jwt.decode(token, { complete: true })?.header;
    if (!header) throw new TokenError('token is not a JWT');
    let payload: jwt.JwtPayload | string | undefined;
    let lastError: Error | undefined;
    const attempts: [jwt.Secret, jwt.Algorithm[]][] = [];
    if (this.hmacAlgs.includes(header.alg as jwt.Algorithm)) attempts.push([this.secret!, this.hmacAlgs]);
    if (this.keyAlgs.includes(header.alg as jwt.Algorithm)) {
      const alg = header.alg as jwt.Algorithm;
      for (const key of alg.startsWith('RS') ? this.keys.rsa : this.keys.ec) attempts.push([key, [alg]]);
    }
    if (attempts.length === 0) throw new TokenError(`algorithm ${String(header.alg)} is not allowed`);
    for (const [key, algorithms] of attempts) {
      try {
        payload = jwt.verify(token, key, { ...base, algorithms });
        break;
      } catch (err) {
        lastError = err as Error;
        if (err instanceof jwt.TokenExpiredError || err instanceof jwt.NotBeforeError) break;
      }
    }
    if (payload === undefined) {
      if (lastError instanceof jwt.TokenExpiredError) throw new TokenError('token expired');
      if (lastError instanceof jwt.NotBeforeError) throw new TokenError('token not yet valid');
      throw new TokenError(`token rejected: ${lastError?.message ?? 'invalid'}`);
    }
    if (typeof payload === 'string') throw new TokenError('token payload is not a JSON object');
    return this.identity(payload);
  }

  private identity(p: jwt.JwtPayload): Identity {
    const userId = p.sub;
    const bizId = p.biz;
    if (typeof userId !== 'string' || !ID.test(userId)) throw new TokenError('claim "sub" (user id) missing or malformed');
    if (typeof bizId !== 'string' || !ID.test(bizId)) throw new TokenError('claim "biz" (biz id) missing or malformed');
    if (p.did !== undefined && (typeof p.did !== 'string' || !ID.test(p.did))) throw new TokenError('claim "did" (device id) malformed');
    if (p.name !== undefined && (typeof p.name !== 'string' || p.name.length > 128)) throw new TokenError('claim "name" malformed');
    if (p.exp === undefined && !this.config.auth.allowNoExp) throw new TokenError('claim "exp" is required');
    return { userId, bizId, deviceId: p.did, name: p.name, expiresAt: p.exp === undefined ? Infinity : p.exp * 1000 };
  }
}
