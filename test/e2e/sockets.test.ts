import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eventually, GatewayProcess, startGateway, uniquePrefixes } from '../fixtures/gateway-process';
import { cleanupPrefixes } from '../fixtures/infra';

const T = { timeout: 60000 };

/** open file descriptors of a process */
const fds = (pid: number) => fs.readdirSync(`/proc/${pid}/fd`).length;

describe('sockets: a refused upgrade holds nothing of ours (one node)', () => {
  const prefixes = uniquePrefixes('sockets');
  let gw: GatewayProcess;

  before(async () => {
    // a generous per-IP rate: the refusals below must be 401s, not 429s
    gw = await startGateway({ ...prefixes, GATEWAY_UPGRADER_RATE_PER_IP: '10000' });
  }, T);
  after(async () => {
    await gw?.stop();
    await cleanupPrefixes(prefixes);
  }, T);

  it('300 refused upgrades from clients that keep their end open leave no descriptor behind', T, async () => {
    const baseline = fds(gw.pid);
    const sockets: net.Socket[] = [];
    const answers: Promise<string>[] = [];
    for (let i = 0; i < 300; i++) {
      const s = net.connect(gw.port, '127.0.0.1');
      sockets.push(s);
      // the client never ends its side; it only reads
      answers.push(
        new Promise((resolve) => {
          let got = '';
          s.on('data', (d) => (got += d.toString()));
          s.on('end', () => resolve(got));
          s.on('close', () => resolve(got));
          s.on('error', () => resolve(got));
        }),
      );
      s.write(
        `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      );
    }
    const got = await Promise.all(answers);
    // every client read the whole refusal: status line and JSON body
    assert.equal(got.filter((g) => g.startsWith('HTTP/1.1 401') && g.includes('"error":"unauthorized"')).length, 300);
    // and the node closed its side, though the clients never closed theirs
    await eventually('the node to close the refused sockets', async () => (fds(gw.pid) <= baseline + 5 ? true : undefined), 10000, 100);
    assert.ok(
      sockets.every((s) => s.readableEnded || s.destroyed),
      'every client saw the node end the connection',
    );
    for (const s of sockets) s.destroy();
  });
});
