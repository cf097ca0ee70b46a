#!/usr/bin/env node
// Bundles what runs outside Node's module loader, with esbuild, after tsc: the admin web UI and
// the client SDK's browser module. Each entry says what it builds; `npm run build` and the test
// runner call this, so dist/ always holds the bundles the tests and the node serve.
const esbuild = require('esbuild');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** @type {{ name: string, options: import('esbuild').BuildOptions }[]} */
const bundles = [
  // issue 12 parts add their entries here (admin UI, browser SDK)
];

async function main() {
  for (const { name, options } of bundles) {
    const result = await esbuild.build({ absWorkingDir: root, bundle: true, logLevel: 'warning', metafile: true, ...options });
    const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
    console.log(`bundled ${name}: ${Object.keys(result.metafile.outputs).join(', ')} (${bytes} bytes)`);
  }
}

main().catch((err) => {
  console.error(`bundle failed: ${err.message}`);
  process.exit(1);
});
