#!/usr/bin/env node
// Generates the static protobuf module and its TypeScript declarations from proto/.
// Output goes to src/codec/generated/ (git-ignored): proto/ stays the one source of truth.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'src/codec/generated');
const protos = ['proto/gateway/v1/frames.proto', 'proto/gateway/v1/envelope.proto', 'proto/gateway/v1/backend.proto'].map((p) => path.join(root, p));
const bin = (n) => path.join(root, 'node_modules/.bin', n);
const js = path.join(out, 'frames.js');
const dts = path.join(out, 'frames.d.ts');

const newest = Math.max(...protos.map((p) => fs.statSync(p).mtimeMs));
if (fs.existsSync(js) && fs.existsSync(dts) && fs.statSync(dts).mtimeMs >= newest) process.exit(0);

fs.mkdirSync(out, { recursive: true });
execFileSync(bin('pbjs'), ['-t', 'static-module', '-w', 'commonjs', '--force-number', '--no-delimited', '--no-service', '-o', js, ...protos], { stdio: 'inherit' });
execFileSync(bin('pbts'), ['-o', dts, js], { stdio: 'inherit' });
console.log('generated', path.relative(root, js), path.relative(root, dts));
