#!/usr/bin/env node
// Runs one tier of tests (unit | integration | e2e | all) with node's test runner on the
// compiled output. Unit specs sit beside the code (src/**/*.spec.ts); integration and e2e
// tests live under test/ and expect scripts/deps.sh to have started Redis, etcd and Kafka (and, for
// test/e2e/monitoring.test.ts, Prometheus and Alertmanager).
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const tier = process.argv[2] ?? 'all';
const tiers = { unit: ['dist/src', /\.spec\.js$/], integration: ['dist/test/integration', /\.test\.js$/], e2e: ['dist/test/e2e', /\.test\.js$/] };
if (tier !== 'all' && !tiers[tier]) {
  console.error(`usage: run-tests.js unit|integration|e2e|all (got ${tier})`);
  process.exit(2);
}

try {
  // a clean output: a spec whose source was removed must not keep running from an old build
  fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  execFileSync(process.execPath, [path.join(root, 'scripts/gen-proto.js')], { stdio: 'inherit', cwd: root });
  execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { stdio: 'inherit', cwd: root });
  execFileSync(process.execPath, [path.join(root, 'scripts/bundle.js')], { stdio: 'inherit', cwd: root });
} catch {
  console.error('build failed: see the compiler errors above');
  process.exit(1);
}

function find(dir, pattern) {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return [];
  return fs
    .readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && pattern.test(e.name))
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort();
}

const files = (tier === 'all' ? Object.values(tiers) : [tiers[tier]]).flatMap(([dir, pattern]) => find(dir, pattern));
if (files.length === 0) {
  console.error(`no ${tier} tests found`);
  process.exit(1);
}
// a hung test fails with its name after 3 minutes instead of stalling CI until its deadline
const args = [
  '--test',
  '--test-reporter=spec',
  '--test-concurrency=1',
  '--test-timeout=180000',
  ...(process.env.TEST_ONLY ? ['--test-name-pattern', process.env.TEST_ONLY] : []),
  ...files,
];
const run = spawnSync(process.execPath, args, {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, GATEWAY_LOG_LEVEL: process.env.GATEWAY_LOG_LEVEL ?? 'warn' },
});
process.exit(run.status ?? 1);
