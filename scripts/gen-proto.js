#!/usr/bin/env node
// Generates the static protobuf modules and their TypeScript declarations from proto/.
// Output goes to src/codec/generated/ (git-ignored): proto/ stays the one source of truth.
// - frames.js: every message of the gateway (frames, envelope, backend), with verify/convert, for the node;
// - client-frames.js: only frames.proto, encode/decode only, for the client SDK (it ships in the browser bundle),
//   under a root of its own: both register in protobufjs' shared `roots`, and the same root would let one overwrite the other.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'src/codec/generated');
const proto = (p) => path.join(root, 'proto/gateway/v1', p);
const bin = (n) => path.join(root, 'node_modules/.bin', n);
const common = ['-t', 'static-module', '-w', 'commonjs', '--force-number', '--no-delimited', '--no-service'];
const targets = [
  { name: 'frames', protos: ['frames.proto', 'envelope.proto', 'backend.proto'].map(proto), flags: [] },
  { name: 'client-frames', protos: [proto('frames.proto')], flags: ['--root', 'gatewayClient', '--no-verify', '--no-convert', '--no-typeurl'] },
];

fs.mkdirSync(out, { recursive: true });
for (const { name, protos, flags } of targets) {
  const js = path.join(out, `${name}.js`);
  const dts = path.join(out, `${name}.d.ts`);
  const newest = Math.max(...protos.map((p) => fs.statSync(p).mtimeMs), fs.statSync(__filename).mtimeMs);
  if (fs.existsSync(js) && fs.existsSync(dts) && fs.statSync(dts).mtimeMs >= newest) continue;
  execFileSync(bin('pbjs'), [...common, ...flags, '-o', js, ...protos], { stdio: 'inherit' });
  execFileSync(bin('pbts'), ['-o', dts, js], { stdio: 'inherit' });
  console.log('generated', path.relative(root, js), path.relative(root, dts));
}
