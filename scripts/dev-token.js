#!/usr/bin/env node
// Prints a development JWT for the gateway (HS256 with GATEWAY_JWT_SECRET, or the embedded
// mode's development secret). Not for production: real tokens come from your auth service.
const { parseArgs } = require('node:util');
const jwt = require('jsonwebtoken');

const { values } = parseArgs({
  options: {
    user: { type: 'string', default: 'alice' },
    biz: { type: 'string', default: 'demo' },
    device: { type: 'string' },
    name: { type: 'string' },
    ttl: { type: 'string', default: '3600' },
    secret: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: dev-token.js [--user ID] [--biz ID] [--device ID] [--name NAME] [--ttl SECONDS] [--secret S] [--quiet]');
  process.exit(0);
}
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl <= 0) {
  console.error('--ttl must be a positive number of seconds');
  process.exit(2);
}
const secret = values.secret ?? process.env.GATEWAY_JWT_SECRET ?? 'dev-only-secret-change-me';
const claims = { sub: values.user, biz: values.biz, ...(values.device ? { did: values.device } : {}), ...(values.name ? { name: values.name } : {}) };
const token = jwt.sign(claims, secret, { algorithm: 'HS256', expiresIn: ttl });
if (values.quiet) console.log(token);
else {
  console.log(token);
  console.error(`\nconnect: ws://127.0.0.1:${process.env.GATEWAY_PORT ?? 9002}/ws?token=${token}`);
}
