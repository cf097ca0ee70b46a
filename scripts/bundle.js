#!/usr/bin/env node
// Bundles what runs outside Node's module loader, with esbuild, after tsc: the admin web UI and
// the client SDK's browser module. Each entry says what it builds; `npm run build` and the test
// runner call this, so dist/ always holds the bundles the tests and the node serve.
const esbuild = require('esbuild');
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
  // issue 12 parts add their entries here (browser SDK)
];

async function main() {
  for (const { name, options, before, after } of bundles) {
    before?.();
    const result = await esbuild.build({ absWorkingDir: root, bundle: true, logLevel: 'warning', metafile: true, ...options });
    after?.(result);
    const outputs = Object.keys(result.metafile.outputs);
    const bytes = outputs.reduce((n, f) => n + fs.statSync(path.join(root, f)).size, 0);
    const gzipped = outputs.reduce((n, f) => n + zlib.gzipSync(fs.readFileSync(path.join(root, f)), { level: 9 }).length, 0);
    console.log(`bundled ${name}: ${outputs.join(', ')} (${bytes} bytes minified, ${gzipped} bytes gzipped)`);
  }
}

main().catch((err) => {
  console.error(`bundle failed: ${err.message}`);
  process.exit(1);
});
