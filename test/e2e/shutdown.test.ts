import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { http } from '../fixtures/admin';
import { startPrivateEtcd } from '../fixtures/etcd-server';
import { ExitInfo, freePort, MAIN, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';

const T = { timeout: 40000 };

/** resolves with the exit, or with null if there was none within `ms` (the process is then SIGKILLed) */
function exitWithin(child: ReturnType<typeof spawn>, ms: number): Promise<ExitInfo | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

describe('every shutdown ends', () => {
  it('a node whose stdout reader went away still drains and exits 0 on SIGTERM, saying on stderr that logging stopped', T, async () => {
    const [port, governancePort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GATEWAY_') && k !== 'CONFIG_FILE') env[k] = v;
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-e2e-'));
    const child = spawn(process.execPath, [MAIN], {
      cwd,
      env: {
        ...env,
        GATEWAY_MODE: 'embedded',
        GATEWAY_PORT: String(port),
        GATEWAY_GOVERNANCE_PORT: String(governancePort),
        GATEWAY_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      // the reader takes stdout up to the ready line, then goes away (a log shipper that died)
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout!.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          if (out.includes('"msg":"gateway node ready"')) {
            child.stdout!.destroy();
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`the node exited (${code}) before it was ready:\n${out}\n${stderr}`)));
      });
      assert.equal((await http(`http://127.0.0.1:${governancePort}/health/live`)).status, 200, 'the node serves with its stdout gone');
      child.kill('SIGTERM');
      // the drain logs ("draining", "stopped") into the broken pipe; a drain with no links takes well under a second
      const exit = await exitWithin(child, 10000);
      assert.deepEqual(exit, { code: 0, signal: null }, `the node did not exit by itself within 10 s of SIGTERM; stderr:\n${stderr}`);
      assert.match(stderr, /logging to stdout stopped/);
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('a shutdown stuck on a dependency that does not answer ends at shutdown.drainTimeoutMs + graceMs with code 1 and the reason on stderr', T, async () => {
    const prefixes = uniquePrefixes('deadline');
    const etcd = await startPrivateEtcd();
    try {
      const gw = await startGateway({
        ...prefixes,
        GATEWAY_ETCD_ENDPOINTS: etcd.endpoint,
        GATEWAY_KAFKA_BROKERS: `127.0.0.1:${await freePort()}`,
        GATEWAY_PUSH_CONSUME: 'false',
        GATEWAY_SHUTDOWN_DRAIN_TIMEOUT_MS: '300',
        GATEWAY_SHUTDOWN_GRACE_MS: '700',
      });
      // a frozen etcd keeps its connections but answers nothing: deregistering on the way out never returns
      etcd.freeze();
      const sent = Date.now();
      const exit = await gw.stop('SIGTERM', 10000);
      const took = Date.now() - sent;
      assert.deepEqual(exit, { code: 1, signal: null }, `expected the deadline's exit 1:\n${gw.logs.slice(-20).join('\n')}`);
      assert.ok(took >= 1000 && took < 5000, `exited ${took} ms after SIGTERM; the deadline is 1000 ms`);
      assert.ok(
        gw.logs.some((l) => l.startsWith('shutdown on SIGTERM did not finish within 1000 ms')),
        `no reason on stderr:\n${gw.logs.slice(-20).join('\n')}`,
      );
    } finally {
      await etcd.kill();
      await cleanupPrefixes(prefixes);
    }
  });
});
