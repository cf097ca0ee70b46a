#!/usr/bin/env node
// `make chaos`: builds the code and the tests, then runs the fuzz tier (one node on the shared
// services, no fault) and the chaos tier (three nodes on a private Redis, etcd and Kafka, one
// fault after another). Both print their figures; the exit code is non-zero if either FAILs.
//   CHAOS_ONLY=fuzz|chaos|regressions   run one of them (regressions: test/chaos/*.test.ts, bugs found here)
//   CHAOS_CASES=1,3           only some fault cases;  FUZZ_SEED / FUZZ_SCALE  replay or resize the fuzz
//   DEPS_KAFKA_LIBS           Kafka jars (default <repo>/.deps/kafka/libs, fetched by scripts/deps.sh start)
//   CHAOS_SHARED_SERVICES=1   CI only: stop/start the shared etcd and Kafka through scripts/deps.sh
const { execFileSync, spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
try {
  execFileSync(process.execPath, [path.join(root, 'scripts/gen-proto.js')], { stdio: 'inherit', cwd: root });
  execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { stdio: 'inherit', cwd: root });
} catch {
  console.error('build failed: see the compiler errors above');
  process.exit(1);
}

const only = process.env.CHAOS_ONLY;
const tiers = [
  ['fuzz', 'dist/test/fuzz/fuzz.js', 300],
  ['chaos', 'dist/test/chaos/chaos.js', 330],
].filter(([name]) => !only || only === name);
// tests that pin down, deterministically, the bugs the two tiers found (they fail until fixed)
if (!only || only === 'regressions') {
  const dir = path.join(root, 'dist/test/chaos');
  const files = require('node:fs').readdirSync(dir).filter((f) => f.endsWith('.test.js'));
  if (files.length) tiers.unshift(['regressions', ['--test', '--test-reporter=spec', ...files.map((f) => path.join(dir, f))], 60]);
}
const status = {};
for (const [name, file, limitSec] of tiers) {
  console.log(`\n===== ${name} =====`);
  const t = Date.now();
  const args = Array.isArray(file) ? file : [path.join(root, file)];
  const run = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root, timeout: limitSec * 1000, killSignal: 'SIGTERM' });
  status[name] = run.status === 0 ? 'PASS' : run.error ? `FAIL (${run.error.code === 'ETIMEDOUT' ? `over ${limitSec} s` : run.error.message})` : `FAIL (exit ${run.status ?? run.signal})`;
  console.log(`===== ${name}: ${status[name]} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}
console.log(`\nmake chaos: ${Object.entries(status).map(([k, v]) => `${k} ${v}`).join(', ')}`);
process.exit(Object.values(status).every((s) => s === 'PASS') ? 0 : 1);
