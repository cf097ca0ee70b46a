import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, DEV_JWT_SECRET, configLeaves, loadConfig } from './config.loader';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'gwcfg-'));

describe('config loader', () => {
  it('boots embedded mode with no file and no variables, with development secrets noted', () => {
    const { config, notes } = loadConfig({ env: {}, cwd: tmp() });
    assert.equal(config.mode, 'embedded');
    assert.equal(config.gateway.port, 9002);
    assert.equal(config.governance.port, 9003);
    assert.equal(config.link.heartbeatMs, 25000);
    assert.equal(config.link.maxPayloadBytes, 512 * 1024);
    assert.equal(config.auth.jwtSecret, DEV_JWT_SECRET);
    assert.equal(config.gateway.publicUrl, 'ws://127.0.0.1:9002/ws');
    assert.equal(notes.length, 2);
  });

  it('applies the DESIGN.md variables and the generic GATEWAY_<PATH> ones with their types', () => {
    const { config } = loadConfig({
      cwd: tmp(),
      env: {
        GATEWAY_MODE: 'cluster',
        GATEWAY_PORT: '9100',
        GATEWAY_NODE_ID: 'n-1',
        GATEWAY_JWT_SECRET: 'a-secret-of-enough-length',
        GATEWAY_ADMIN_TOKEN: 'admin-token-of-enough-length',
        GATEWAY_KAFKA_BROKERS: 'k1:9092, k2:9092',
        GATEWAY_LINK_HEARTBEAT_MS: '500',
        GATEWAY_AUTH_ALLOW_NO_EXP: 'true',
      },
    });
    assert.equal(config.mode, 'cluster');
    assert.equal(config.gateway.port, 9100);
    assert.equal(config.node.id, 'n-1');
    assert.deepEqual(config.kafka.brokers, ['k1:9092', 'k2:9092']);
    assert.equal(config.link.heartbeatMs, 500);
    assert.equal(config.auth.allowNoExp, true);
  });

  it('lets variables override the YAML file named by CONFIG_FILE', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'gw.yaml'), 'gateway:\n  port: 9200\nlink:\n  heartbeatMs: 1000\n');
    const { config, file } = loadConfig({ cwd: dir, env: { CONFIG_FILE: 'gw.yaml', GATEWAY_LINK_HEARTBEAT_MS: '2000' } });
    assert.equal(file, 'gw.yaml');
    assert.equal(config.gateway.port, 9200);
    assert.equal(config.link.heartbeatMs, 2000);
  });

  it('lists every problem in one error: bad values, unknown keys, unknown variables, cluster secrets', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'gateway:\n  port: 70000\n  colour: blue\n');
    let error: unknown;
    try {
      loadConfig({ cwd: dir, env: { CONFIG_FILE: 'bad.yaml', GATEWAY_MODE: 'cluster', GATEWAY_LINK_HEARTBEAT_MS: 'soon', GATEWAY_TYPO: 'x' } });
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConfigError);
    const text = error.message;
    for (const expected of ['GATEWAY_TYPO: unknown variable', 'gateway.port', 'colour', 'link.heartbeatMs', 'auth.jwtSecret', 'governance.adminToken']) {
      assert.ok(text.includes(expected), `expected "${expected}" in:\n${text}`);
    }
    assert.ok(error.problems.length >= 6);
  });

  it('takes trusted proxies as addresses or networks, and names a bad entry', () => {
    const ok = loadConfig({ cwd: tmp(), env: { GATEWAY_UPGRADER_TRUSTED_PROXIES: '10.0.0.0/8,::1,127.0.0.1' } });
    assert.deepEqual(ok.config.upgrader.trustedProxies, ['10.0.0.0/8', '::1', '127.0.0.1']);
    assert.throws(
      () => loadConfig({ cwd: tmp(), env: { GATEWAY_UPGRADER_TRUSTED_PROXIES: '10.0.0.0/8,balancer.local' } }),
      (err: Error) => /upgrader\.trustedProxies\.1: expected an IP address .* or a network/.test(err.message),
    );
  });

  it('says what is wrong with each value, and which variable sets it', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'gateway:\n  port: 70000\n  colour: blue\nlog:\n  level: loud\n');
    let error: unknown;
    try {
      loadConfig({
        cwd: dir,
        env: { CONFIG_FILE: 'bad.yaml', GATEWAY_LINK_HEARTBEAT_MS: 'soon', GATEWAY_PUSH_CONCURRENCY: '1.5', GATEWAY_REDIS_URL: 'not a url' },
      });
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConfigError);
    const problem = (at: string) => {
      const found = error.problems.filter((p) => p.startsWith(`${at}: `));
      assert.equal(found.length, 1, `one problem for ${at} in:\n${error.message}`);
      return found[0];
    };
    assert.match(problem('gateway.port'), /65535/);
    assert.match(problem('gateway'), /colour/);
    assert.match(problem('log.level'), /"info"/);
    assert.match(problem('link.heartbeatMs'), /expected number, received string \(env GATEWAY_LINK_HEARTBEAT_MS\)$/);
    assert.match(problem('push.concurrency'), /expected an integer, received 1\.5 \(env GATEWAY_PUSH_CONCURRENCY\)$/);
    assert.match(problem('redis.url'), /URL/);
  });

  it('fills the defaults of a section given in part', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'part.yaml'), 'push:\n  topic: other\n');
    const { config } = loadConfig({ cwd: dir, env: { CONFIG_FILE: 'part.yaml' } });
    assert.equal(config.push.topic, 'other');
    assert.equal(config.push.concurrency, 256);
    assert.deepEqual(config.rooms.approvalBizIds, []);
  });

  it('refuses a YAML file that does not parse, naming it', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'broken.yaml'), 'gateway: [unclosed\n');
    assert.throws(
      () => loadConfig({ cwd: dir, env: { CONFIG_FILE: 'broken.yaml' } }),
      (e: Error) => e instanceof ConfigError && e.message.includes('broken.yaml'),
    );
  });

  it('maps every leaf to a distinct variable name', () => {
    const names = configLeaves().map((l) => l.env);
    assert.equal(new Set(names).size, names.length);
    assert.ok(names.includes('GATEWAY_LINK_SEND_QUEUE_MAX_BYTES'));
  });

  it('docs/configuration.md lists every key with its variable', () => {
    const doc = fs.readFileSync(path.join(__dirname, '../../../docs/configuration.md'), 'utf8');
    const missing = configLeaves().filter((l) => !doc.includes(`| \`${l.path}\` | \`${l.env}\``));
    assert.deepEqual(
      missing.map((l) => l.path),
      [],
    );
  });
});
