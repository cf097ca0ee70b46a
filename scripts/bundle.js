#!/usr/bin/env node
// Bundles what runs outside Node's module loader, with esbuild, after tsc: the admin web UI and
// the client SDK's browser module. Each entry says what it builds; `npm run build` and the test
// runner call this, so dist/ always holds the bundles the tests and the node serve.
const esbuild = require('esbuild');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const root = path.resolve(__dirname, '..');

/**
 * The admin UI's page: src/ui/index.html with the hashed asset names put in (%JS%, %CSS%). The
 * names change with the content, so the node serves assets as immutable and only the page
 * (no-cache) is read again after a deploy.
 */
function writeUiPage(result) {
  const outs = Object.keys(result.metafile.outputs).map((f) => path.basename(f));
  const js = outs.find((f) => f.endsWith('.js'));
  const css = outs.find((f) => f.endsWith('.css'));
  const page = fs.readFileSync(path.join(root, 'src/ui/index.html'), 'utf8').replace('%JS%', `./${js}`).replace('%CSS%', `./${css}`);
  fs.writeFileSync(path.join(root, 'dist/ui/index.html'), page);
}

/**
 * protobufjs picks up long.js when it can require it, and then reads uint64 fields as Long
 * objects; the SDK's frames only need numbers (generated with --force-number), so the bundles
 * get an empty `long` (11 KiB less in the browser) and protobufjs falls back to numbers.
 */
const noLong = {
  name: 'no-long',
  setup(build) {
    build.onResolve({ filter: /^long$/ }, () => ({ path: 'long', namespace: 'no-long' }));
    build.onLoad({ filter: /.*/, namespace: 'no-long' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
  },
};

/** @type {{ name: string, options: import('esbuild').BuildOptions, before?: () => void, after?: (result: import('esbuild').BuildResult) => void }[]} */
const bundles = [
  {
    // the admin web UI (Preact + htm), served by every node at /ui and by the balancer at /
    name: 'admin UI',
    before: () => fs.rmSync(path.join(root, 'dist/ui'), { recursive: true, force: true }),
    options: {
      entryPoints: { app: 'src/ui/app.ts' },
      outdir: 'dist/ui',
      entryNames: '[name]-[hash]',
      format: 'esm',
      platform: 'browser',
      target: ['es2022'],
      minify: true,
      legalComments: 'none',
    },
    after: writeUiPage,
  },
  {
    // the SDK's Node entry as one CommonJS file; `ws` stays a dependency the user installs
    name: 'client SDK (Node)',
    options: {
      entryPoints: ['src/client/index.ts'],
      outfile: 'dist/client/index.js',
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['ws'],
      sourcemap: true,
      plugins: [noLong],
    },
  },
  {
    // the same API as an ES module for browsers: global WebSocket, protobufjs/minimal inside
    name: 'client SDK (browser)',
    options: {
      entryPoints: ['src/client/browser.ts'],
      outfile: 'dist/client/browser.js',
      platform: 'browser',
      format: 'esm',
      target: 'es2020',
      minify: true,
      sourcemap: true,
      plugins: [noLong],
    },
    after: () => {
      const code = fs.readFileSync(path.join(root, 'dist/client/browser.js'));
      console.log(
        `  browser SDK: ${(code.length / 1024).toFixed(1)} KiB minified, ${(zlib.gzipSync(code, { level: 9 }).length / 1024).toFixed(1)} KiB gzipped`,
      );
    },
  },
];

/**
 * Declarations of the SDK entries, from the same source (tsc --emitDeclarationOnly into
 * dist/client/types), and the two .d.ts the contract paths need, re-exporting them.
 */
function clientDeclarations() {
  execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.client.json'], { stdio: 'inherit', cwd: root });
  for (const entry of ['index', 'browser']) fs.writeFileSync(path.join(root, `dist/client/${entry}.d.ts`), `export * from './types/client/${entry}';\n`);
  console.log('declared client SDK: dist/client/index.d.ts, dist/client/browser.d.ts');
}

async function main() {
  for (const { name, options, before, after } of bundles) {
    before?.();
    const result = await esbuild.build({ absWorkingDir: root, bundle: true, logLevel: 'warning', metafile: true, ...options });
    after?.(result);
    const outputs = Object.keys(result.metafile.outputs).filter((f) => !f.endsWith('.map'));
    const bytes = outputs.reduce((n, f) => n + fs.statSync(path.join(root, f)).size, 0);
    const gzipped = outputs.reduce((n, f) => n + zlib.gzipSync(fs.readFileSync(path.join(root, f)), { level: 9 }).length, 0);
    console.log(`bundled ${name}: ${outputs.join(', ')} (${bytes} bytes${options.minify ? ' minified' : ''}, ${gzipped} bytes gzipped)`);
  }
  clientDeclarations();
}

main().catch((err) => {
  console.error(`bundle failed: ${err.message}`);
  process.exit(1);
});
