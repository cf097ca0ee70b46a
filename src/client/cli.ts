#!/usr/bin/env node
/**
 * gateway-client: a command-line client of the gateway on the SDK. Prints every push (and
 * resync) as one JSON line on stdout, sends each stdin line as a `req` (the line parsed as
 * JSON when it parses, else the string) and prints its ack as a JSON line. Logs go to stderr.
 * Exit codes: 0 after SIGINT/SIGTERM (or --exit-on-eof), 1 when every client stopped for good,
 * 2 for bad flags. See docs/client.md.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import * as jwt from 'jsonwebtoken';
import * as readline from 'node:readline';
import { GatewayClient } from './index';
import type { CodecName, GatewayClientOptions } from './types';

interface Flags {
  url: string;
  name?: string;
  token?: string;
  user?: string;
  biz?: string;
  secret?: string;
  device?: string;
  ttl: number;
  codec: CodecName;
  count: number;
  timeoutMs: number;
  autoAck: boolean;
  followRedirects: boolean;
  exitOnEof: boolean;
  quiet: boolean;
}

const positiveInt = (what: string, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`${what} must be a whole number from 1 to ${max}`);
  return n;
};

function parseFlags(argv: string[]): Flags {
  const program = new Command('gateway-client')
    .description('Connects to the gateway, prints pushes as JSON lines, sends stdin lines as requests.')
    .requiredOption('--url <url>', 'ws:// or wss:// URL of a node or the balancer, e.g. ws://127.0.0.1:9002/ws')
    .option('--name <name>', 'display name (the token name claim with --user) and label of the client')
    .option('--token <jwt>', 'a token to connect with')
    .option('--user <id>', 'sign a development token for this user (with --biz and --secret)')
    .option('--biz <id>', 'the biz id of the development token')
    .addOption(new Option('--secret <secret>', 'the HS256 secret of the development token').env('GATEWAY_JWT_SECRET'))
    .option('--device <id>', 'the device id (did) of the development token')
    .option('--ttl <seconds>', 'lifetime of the development token (refreshed before it ends)', positiveInt('--ttl', 86400 * 365), 3600)
    .addOption(new Option('--codec <codec>', 'frame codec').choices(['json', 'protobuf']).default('json'))
    .option('--count <n>', 'start n clients named <name>-1..n (users <user>-1..n)', positiveInt('--count', 10000), 1)
    .option('--timeout-ms <ms>', 'how long a request waits for its ack', positiveInt('--timeout-ms', 3_600_000), 10000)
    .option('--no-auto-ack', 'do not send ack-push for the pushes printed')
    .option('--no-follow-redirects', "when a node moves a link, reconnect to --url (e.g. the balancer) instead of the node's redirect url")
    .option('--exit-on-eof', 'exit once stdin ended and every request got its answer')
    .option('--quiet', 'no connection logs on stderr')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0
      process.exit(err.exitCode === 0 ? 0 : 2);
    }
    throw err;
  }
  const flags = program.opts<Flags>();
  const usage = (msg: string): never => {
    process.stderr.write(`gateway-client: ${msg}\n(see --help)\n`);
    process.exit(2);
  };
  if (!/^wss?:\/\/[^/]/.test(flags.url)) usage(`--url must be a ws:// or wss:// URL, got "${flags.url}"`);
  const dev = flags.user !== undefined || flags.biz !== undefined;
  if (flags.token !== undefined && dev) usage('give either --token or --user/--biz/--secret, not both');
  if (flags.token === undefined) {
    if (!dev) usage('give --token, or --user, --biz and --secret for a development token');
    if (!flags.user || !flags.biz) usage('a development token needs both --user and --biz');
    if (!flags.secret) usage('a development token needs --secret (or GATEWAY_JWT_SECRET)');
  }
  return flags;
}

function main(): void {
  const flags = parseFlags(process.argv);
  const out = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
  const log = (msg: string) => {
    if (!flags.quiet) process.stderr.write(`${msg}\n`);
  };

  const clients: GatewayClient[] = [];
  let stopping = false;
  for (let i = 1; i <= flags.count; i++) {
    const suffix = flags.count > 1 ? `-${i}` : '';
    const user = flags.user === undefined ? undefined : `${flags.user}${suffix}`;
    const name = flags.name !== undefined ? `${flags.name}${suffix}` : (user ?? `client${suffix}`);
    const options: GatewayClientOptions = {
      url: flags.url,
      codec: flags.codec,
      name,
      autoAck: flags.autoAck,
      followRedirects: flags.followRedirects,
      requestTimeoutMs: flags.timeoutMs,
    };
    if (flags.token !== undefined) options.token = flags.token;
    else {
      const claims = { sub: user, biz: flags.biz, ...(flags.device ? { did: `${flags.device}${suffix}` } : {}), ...(flags.name ? { name } : {}) };
      // a provider rather than one token: the client refreshes it before exp and gets a new one on reconnect
      options.getToken = () => jwt.sign(claims, flags.secret!, { algorithm: 'HS256', expiresIn: flags.ttl });
    }
    const client = new GatewayClient(options);
    client.on('push', (p) => out({ type: 'push', client: name, ...p }));
    client.on('resync', (r) => out({ type: 'resync', client: name, reason: r.reason, epoch: r.epoch, seq: r.seq }));
    client.on('connected', (c) =>
      log(
        `[${name}] connected sid=${c.sid} node=${c.node}${c.resumedFrom !== undefined ? ` resume=${c.resumedFrom ? `${c.resumedFrom.epoch}:${c.resumedFrom.seq}` : '(all stored)'}` : ''}`,
      ),
    );
    client.on('disconnected', (d) =>
      log(
        `[${name}] disconnected code=${d.code}${d.reason ? ` reason="${d.reason}"` : ''}${d.willReconnect ? ` reconnecting in ${d.delayMs} ms` : ', not reconnecting'}`,
      ),
    );
    client.on('redirect', (r) => log(`[${name}] redirected to ${r.url} (${r.reason})`));
    client.on('error', (e) => log(`[${name}] ${e.message}`));
    client.on('state', (s) => {
      if (s === 'closed' && !stopping && clients.every((c) => c.state === 'closed')) {
        log('every client stopped for good');
        process.exit(1);
      }
    });
    clients.push(client);
  }

  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await Promise.all(clients.map((c) => c.close()));
    process.exit(code);
  };
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));
  for (const c of clients) void c.connect().catch(() => undefined);

  let lineNo = 0;
  let inflight = 0;
  let eof = false;
  const maybeDone = () => {
    if (flags.exitOnEof && eof && inflight === 0) void shutdown(0);
  };
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (text) => {
    const line = ++lineNo;
    if (text.trim() === '') return;
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: sent as the string
    }
    for (const c of clients) {
      if (c.state === 'closed') continue;
      inflight++;
      c.request(body)
        .then(
          (ack) => out({ type: 'ack', client: c.name, line, ...ack }),
          (err: Error & { code?: string }) => {
            out({ type: 'req-error', client: c.name, line, error: err.code ?? 'error', message: err.message });
          },
        )
        .finally(() => {
          inflight--;
          maybeDone();
        });
    }
  });
  rl.on('close', () => {
    eof = true;
    maybeDone();
  });
}

main();
