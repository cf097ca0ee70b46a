/**
 * An example backend for the gateway's uplink (DESIGN.md "Backends (uplink)"): a gRPC server for
 * gateway.v1.GatewayBackend (proto/gateway/v1/backend.proto) that serves one or more bizIds and
 * registers each of them in etcd on one lease, so every gateway node finds it:
 *
 *   <prefix><bizId>/<instance> = {"addr":"host:port"}       (prefix default /services/backends/)
 *
 * Run: node dist/examples/backend/backend.js --biz demo     (or `make run_backend`)
 * What it answers and every flag: examples/backend/README.md.
 *
 * stdout carries one JSON line when ready ({"msg":"backend ready",...}) and JSON lines for
 * errors; nothing per request. On SIGTERM / SIGINT: revoke the lease (the gateways drop this
 * instance at once), drain the gRPC server (bounded), close Kafka and etcd, exit 0.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Etcd3, Lease } from 'etcd3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, Partitioners, Producer } from 'kafkajs';

// ---------------------------------------------------------------- options

export interface BackendOptions {
  bizIds: string[];
  listen: string;
  advertise?: string;
  etcd: string[];
  etcdPrefix: string;
  leaseTtlSec: number;
  instance: string;
  register: boolean;
  kafka: string[];
  topic: string;
  drainMs: number;
  proto: string;
}

const USAGE = `usage: backend.js --biz ID[,ID...] [--biz ID] [--listen host:port] [--advertise host:port]
  [--etcd url[,url]] [--etcd-prefix P] [--lease-ttl S] [--instance NAME] [--no-etcd]
  [--kafka host:port[,host:port]] [--topic T] [--drain-ms MS] [--proto FILE]
env fallbacks: BACKEND_BIZ BACKEND_LISTEN BACKEND_ADVERTISE BACKEND_ETCD BACKEND_ETCD_PREFIX
  BACKEND_LEASE_TTL BACKEND_INSTANCE BACKEND_NO_ETCD=1 BACKEND_KAFKA BACKEND_TOPIC BACKEND_DRAIN_MS BACKEND_PROTO`;

const csv = (values: string[]): string[] =>
  values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);

/** The proto next to the repo root: dist/examples/backend/ (built) or examples/backend/ (source). */
function defaultProto(): string {
  const rel = 'proto/gateway/v1/backend.proto';
  const candidates = [path.resolve(__dirname, '../../..', rel), path.resolve(__dirname, '../..', rel)];
  return candidates.find((p) => fs.existsSync(p)) ?? candidates[0];
}

function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer (got ${raw})`);
  return n;
}

/** CLI flags (node's util.parseArgs), each with an environment fallback. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): BackendOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      biz: { type: 'string', multiple: true },
      listen: { type: 'string' },
      advertise: { type: 'string' },
      etcd: { type: 'string' },
      'etcd-prefix': { type: 'string' },
      'lease-ttl': { type: 'string' },
      instance: { type: 'string' },
      'no-etcd': { type: 'boolean' },
      kafka: { type: 'string' },
      topic: { type: 'string' },
      'drain-ms': { type: 'string' },
      proto: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const bizIds = [...new Set(csv(values.biz ?? (env.BACKEND_BIZ ? [env.BACKEND_BIZ] : [])))];
  if (!bizIds.length) throw new Error('--biz is required (one or more bizIds, repeated or comma-separated)');
  let prefix = values['etcd-prefix'] ?? env.BACKEND_ETCD_PREFIX ?? '/services/backends/';
  if (!prefix.endsWith('/')) prefix += '/';
  return {
    bizIds,
    listen: values.listen ?? env.BACKEND_LISTEN ?? '127.0.0.1:0',
    advertise: values.advertise ?? env.BACKEND_ADVERTISE,
    etcd: csv([values.etcd ?? env.BACKEND_ETCD ?? 'http://127.0.0.1:2379']),
    etcdPrefix: prefix,
    leaseTtlSec: positiveInt('--lease-ttl', values['lease-ttl'] ?? env.BACKEND_LEASE_TTL ?? '5'),
    instance: values.instance ?? env.BACKEND_INSTANCE ?? `${os.hostname()}-${process.pid}`,
    register: !(values['no-etcd'] ?? env.BACKEND_NO_ETCD === '1'),
    kafka: csv([values.kafka ?? env.BACKEND_KAFKA ?? '127.0.0.1:9092']),
    topic: values.topic ?? env.BACKEND_TOPIC ?? 'gateway.push',
    drainMs: positiveInt('--drain-ms', values['drain-ms'] ?? env.BACKEND_DRAIN_MS ?? '5000'),
    proto: values.proto ?? env.BACKEND_PROTO ?? defaultProto(),
  };
}

// ---------------------------------------------------------------- output

/** One JSON line on stdout: the ready line, and errors. */
function line(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(fields)}\n`);
}
const logError = (msg: string, err?: unknown, extra: Record<string, unknown> = {}) =>
  line({ level: 'error', time: new Date().toISOString(), msg, ...extra, ...(err ? { err: err instanceof Error ? err.message : String(err) } : {}) });

// ---------------------------------------------------------------- the messages (proto-loader, keepCase false)

export interface SessionInfo {
  sid: string;
  bizId: string;
  userId: string;
  deviceId: string;
  name: string;
  ip: string;
  node: string;
}
export interface UplinkRequest {
  session?: SessionInfo;
  id: string;
  body: Buffer;
}
export interface UplinkReply {
  code: number;
  body?: Buffer;
  msg?: string;
}
export interface JoinRequest {
  session?: SessionInfo;
  room: string;
}
export interface JoinReply {
  allowed: boolean;
  msg: string;
}

/** proto-loader options shared by this server and the clients of the tests and the bench */
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true };

export function loadService(protoFile: string): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(protoFile, LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as { gateway: { v1: { GatewayBackend: grpc.ServiceClientConstructor } } };
  return pkg.gateway.v1.GatewayBackend;
}

// ---------------------------------------------------------------- Kafka (the IM round trip)

/** A producer connected on first use (a backend that never sends needs no broker). */
class PushProducer {
  private producer?: Producer;
  private connecting?: Promise<Producer>;
  constructor(
    private readonly brokers: string[],
    private readonly topic: string,
    private readonly clientId: string,
  ) {}

  private connect(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      const kafka = new Kafka({
        clientId: this.clientId,
        brokers: this.brokers,
        logLevel: logLevel.ERROR,
        logCreator: () => (e) => logError(`kafka: ${e.log.message}`),
      });
      const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
      await p.connect();
      this.producer = p;
      return p;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** One push envelope (docs/push.md), key = the target user, acks from every in-sync replica. */
  async send(userId: string, envelope: unknown): Promise<void> {
    const p = await this.connect();
    await p.send({
      topic: this.topic,
      acks: -1,
      messages: [{ key: userId, value: JSON.stringify(envelope), headers: { 'content-type': 'application/json' } }],
    });
  }

  async close(): Promise<void> {
    await this.connecting?.catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
  }
}

// ---------------------------------------------------------------- what it answers

type Json = Record<string, unknown>;
const reply = (code: number, body?: unknown, msg = ''): UplinkReply => ({
  code,
  body: body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body)),
  msg,
});
const MAX_SLEEP_MS = 60000;

export class ExampleBackend {
  /** requests handled, by kind (printed on stderr at shutdown; nothing per request) */
  readonly counts: Record<string, number> = {};
  private readonly served: Set<string>;

  constructor(
    private readonly opts: Pick<BackendOptions, 'bizIds' | 'instance'>,
    private readonly push: { send(userId: string, envelope: unknown): Promise<void> },
  ) {
    this.served = new Set(opts.bizIds);
  }

  private count(kind: string): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
  }

  async request(req: UplinkRequest): Promise<UplinkReply> {
    const session = req.session;
    if (!session || !this.served.has(session.bizId)) {
      this.count('unserved');
      return reply(404, undefined, `biz ${session?.bizId ?? '(none)'} is not served by ${this.opts.instance}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(req.body ?? []).toString('utf8'));
    } catch {
      this.count('bad_json');
      return reply(400, undefined, 'body is not JSON');
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) return this.unknown();
    return this.dispatch(body as Json, session);
  }

  private async dispatch(b: Json, session: SessionInfo): Promise<UplinkReply> {
    if ('echo' in b) return this.echo(b);
    if ('to' in b) return this.send(b, session);
    // the test knobs below are here to exercise the gateway's handling of slow, failing and broken backends
    if ('sleepMs' in b) return this.sleep(b);
    if ('code' in b) return this.code(b);
    if (b.garbage === true) {
      this.count('garbage');
      return { code: 0, body: Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x6e, 0x6f, 0x74]), msg: '' };
    }
    return this.unknown();
  }

  private unknown(): UplinkReply {
    this.count('unknown');
    return reply(400, undefined, 'unknown request');
  }

  private echo(b: Json): UplinkReply {
    this.count('echo');
    return reply(0, { echo: b.echo, instance: this.opts.instance });
  }

  /** {to, text}: a push envelope to the target user through Kafka (the IM round trip) */
  private async send(b: Json, session: SessionInfo): Promise<UplinkReply> {
    this.count('send');
    if (typeof b.to !== 'string' || !b.to) return reply(400, undefined, '"to" must be a user id');
    if (typeof b.text !== 'string') return reply(400, undefined, '"text" must be a string');
    const envelope = { bizId: session.bizId, to: { users: [b.to] }, body: { from: session.userId, text: b.text } };
    try {
      await this.push.send(b.to, envelope);
    } catch (err) {
      logError('push to kafka failed', err, { to: b.to });
      return reply(503, undefined, 'push not sent: Kafka unavailable');
    }
    return reply(0, { sent: true });
  }

  private async sleep(b: Json): Promise<UplinkReply> {
    this.count('sleep');
    const ms = Number(b.sleepMs);
    if (!Number.isFinite(ms) || ms < 0 || ms > MAX_SLEEP_MS) return reply(400, undefined, `sleepMs must be 0..${MAX_SLEEP_MS}`);
    await new Promise((r) => setTimeout(r, ms));
    return reply(0, { slept: ms });
  }

  private code(b: Json): UplinkReply {
    this.count('code');
    const code = Number(b.code);
    if (!Number.isInteger(code) || code < -(2 ** 31) || code >= 2 ** 31) return reply(400, undefined, 'code must be an int32');
    return { code, body: Buffer.alloc(0), msg: typeof b.msg === 'string' ? b.msg : '' };
  }

  /** the example policy: every room but `private.*` */
  authorizeJoin(req: JoinRequest): JoinReply {
    this.count('join');
    const room = req.room ?? '';
    if (room.startsWith('private.')) return { allowed: false, msg: `rooms named private.* are closed (example policy): ${room}` };
    return { allowed: true, msg: 'open room' };
  }

  /** the grpc-js handlers: every call gets a reply, an unexpected failure becomes code 500 */
  handlers(): grpc.UntypedServiceImplementation {
    return {
      Request: (call: grpc.ServerUnaryCall<UplinkRequest, UplinkReply>, cb: grpc.sendUnaryData<UplinkReply>) => {
        this.request(call.request).then(
          (r) => cb(null, r),
          (err) => {
            logError('request failed', err);
            cb(null, reply(500, undefined, 'backend error'));
          },
        );
      },
      AuthorizeJoin: (call: grpc.ServerUnaryCall<JoinRequest, JoinReply>, cb: grpc.sendUnaryData<JoinReply>) => {
        cb(null, this.authorizeJoin(call.request));
      },
    };
  }
}

// ---------------------------------------------------------------- etcd registration

/** Every bizId under one lease; a lost lease (etcd away longer than the TTL) is granted anew. */
class Registration {
  private readonly client: Etcd3;
  private lease?: Lease;
  private closed = false;

  constructor(
    private readonly opts: BackendOptions,
    private readonly addr: string,
  ) {
    this.client = new Etcd3({ hosts: opts.etcd, dialTimeout: 3000 });
  }

  keys(): string[] {
    return this.opts.bizIds.map((biz) => `${this.opts.etcdPrefix}${biz}/${this.opts.instance}`);
  }

  async register(): Promise<void> {
    const lease = this.client.lease(this.opts.leaseTtlSec);
    this.lease = lease;
    lease.on('lost', (err) => {
      if (this.closed || this.lease !== lease) return;
      logError('etcd lease lost: registering again', err);
      this.retry();
    });
    const value = JSON.stringify({ addr: this.addr });
    for (const key of this.keys()) await lease.put(key).value(value);
  }

  private retry(): void {
    setTimeout(() => {
      if (this.closed) return;
      this.register().catch((err) => {
        logError('etcd registration failed: retrying in 1 s', err);
        this.retry();
      });
    }, 1000).unref();
  }

  /** revokes the lease (the keys go with it), bounded so a dead etcd cannot hold the shutdown */
  async revoke(timeoutMs = 2000): Promise<void> {
    this.closed = true;
    const lease = this.lease;
    if (!lease) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([lease.revoke(), new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('timed out')), timeoutMs)))]);
    } catch (err) {
      logError('etcd lease revoke failed: the keys expire with the lease TTL', err);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.client.close();
  }
}

// ---------------------------------------------------------------- the process

function bind(server: grpc.Server, listen: string): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
}

/** host:port the gateways dial: --advertise, else the listen host (the machine's name for a wildcard) and the bound port */
function advertised(opts: BackendOptions, port: number): string {
  if (opts.advertise) return opts.advertise;
  const host = opts.listen.slice(0, opts.listen.lastIndexOf(':'));
  const wildcard = ['', '0.0.0.0', '[::]', '::'].includes(host);
  return `${wildcard ? os.hostname() : host}:${port}`;
}

function drain(server: grpc.Server, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      logError(`gRPC calls still running after ${ms} ms: cancelled`);
      server.forceShutdown();
      resolve();
    }, ms);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  let opts: BackendOptions;
  try {
    opts = parseOptions(argv);
  } catch (err) {
    logError((err as Error).message);
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const producer = new PushProducer(opts.kafka, opts.topic, `example-backend-${opts.instance}`);
  const backend = new ExampleBackend(opts, producer);
  const server = new grpc.Server();
  server.addService(loadService(opts.proto).service, backend.handlers());
  const port = await bind(server, opts.listen);
  const addr = advertised(opts, port);
  const registration = opts.register ? new Registration(opts, addr) : undefined;
  await registration?.register();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    await registration?.revoke(); // first: the gateways stop sending here at once
    await drain(server, opts.drainMs);
    await producer.close();
    registration?.close();
    process.stderr.write(`${JSON.stringify({ msg: 'backend stopped', signal, instance: opts.instance, requests: backend.counts })}\n`);
    process.exit(0);
  };
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void stop(sig));
  line({ msg: 'backend ready', addr, instance: opts.instance, bizIds: opts.bizIds });
}

if (require.main === module) {
  main().catch((err) => {
    logError('backend failed to start', err);
    process.exit(1);
  });
}
