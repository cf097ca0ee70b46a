import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort, ROOT } from '../fixtures/gateway-process';

/**
 * Private etcd and Kafka for the chaos tier: on free ports, with data dirs of their own, so
 * stopping them never touches the shared services other runs use (127.0.0.1:2379 / :9092).
 */
export interface Service {
  url: string;
  /** stops the process (SIGTERM, SIGKILL after `killAfterMs`), keeps its data */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** starts it again on the same ports with the same data; resolves once it answers */
  start(): Promise<void>;
  /** last lines of its output, for a FAIL report */
  tail(): string;
  remove(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function supervise(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  let child: ChildProcess | undefined;
  let out: string[] = [];
  const launch = () => {
    out = [];
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    child = c;
    children.add(c);
    const keep = (d: Buffer) => {
      out.push(...d.toString('utf8').split('\n').filter(Boolean));
      if (out.length > 200) out.splice(0, out.length - 200);
    };
    c.stdout!.on('data', keep);
    c.stderr!.on('data', keep);
    c.once('exit', () => children.delete(c));
    return c;
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 20000) => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), killAfterMs);
    await exited;
    clearTimeout(t);
  };
  const alive = () => !!child && child.exitCode === null && child.signalCode === null;
  return { launch, stop, alive, tail: () => out.slice(-30).join('\n') };
}

async function waitFor(what: string, probe: () => Promise<boolean>, alive: () => boolean, tail: () => string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`${what} exited during startup:\n${tail()}`);
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not up within ${timeoutMs} ms:\n${tail()}`);
    await sleep(200);
  }
}

export async function startPrivateEtcd(): Promise<Service> {
  const [port, peer] = [await freePort(), await freePort()];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-etcd-'));
  const url = `http://127.0.0.1:${port}`;
  const p = supervise('etcd', [
    '--name',
    'chaos',
    '--data-dir',
    dir,
    '--listen-client-urls',
    url,
    '--advertise-client-urls',
    url,
    '--listen-peer-urls',
    `http://127.0.0.1:${peer}`,
    '--initial-advertise-peer-urls',
    `http://127.0.0.1:${peer}`,
    '--initial-cluster',
    `chaos=http://127.0.0.1:${peer}`,
    '--log-level',
    'warn',
  ]);
  const start = async () => {
    p.launch();
    await waitFor(
      `etcd on ${port}`,
      async () => {
        const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
        return r.ok && ((await r.json()) as { health?: string }).health === 'true';
      },
      p.alive,
      p.tail,
      30000,
    );
  };
  await start();
  return { url, stop: (s) => p.stop(s), start, tail: p.tail, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Kafka jars: DEPS_KAFKA_LIBS, else <repo>/.deps/kafka/libs (what scripts/deps.sh fetches). */
export function kafkaLibs(): string {
  const dir = process.env.DEPS_KAFKA_LIBS ?? path.join(ROOT, '.deps/kafka/libs');
  if (!fs.existsSync(dir) || !fs.readdirSync(dir).some((f) => /^kafka_2\.13-.*\.jar$/.test(f)))
    throw new Error(`no Kafka jars in ${dir}: run scripts/deps.sh start, or set DEPS_KAFKA_LIBS`);
  return dir;
}

/** A single-node KRaft broker (broker + controller) on free ports, -Xmx512m. */
export async function startPrivateKafka(): Promise<Service & { brokers: string[] }> {
  const libs = kafkaLibs();
  const [port, ctl] = [await freePort(), await freePort()];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-kafka-'));
  const props = path.join(dir, 'server.properties');
  fs.writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${ctl}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${ctl}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      `log.dirs=${path.join(dir, 'data')}`,
      'num.partitions=6',
      'default.replication.factor=1',
      'auto.create.topics.enable=true',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=3',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'num.network.threads=2',
      'num.io.threads=2',
      'num.recovery.threads.per.data.dir=1',
      '',
    ].join('\n'),
  );
  const log4j = path.join(dir, 'log4j2.properties');
  fs.writeFileSync(
    log4j,
    [
      'status = error',
      'appender.console.type = Console',
      'appender.console.name = STDOUT',
      'appender.console.layout.type = PatternLayout',
      'appender.console.layout.pattern = [%d] %p %m (%c)%n',
      'rootLogger.level = warn',
      'rootLogger.appenderRef.stdout.ref = STDOUT',
      '',
    ].join('\n'),
  );
  const cp = `${libs}/*`;
  const id = Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256)))
    .toString('base64url')
    .replace(/^-/, 'A');
  await new Promise<void>((resolve, reject) =>
    execFile(
      'java',
      [
        '-Xmx256m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        `-Dlog4j2.configurationFile=${log4j}`,
        '-cp',
        cp,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        id,
        '-c',
        props,
      ],
      { timeout: 60000 },
      (err, stdout, stderr) => (err ? reject(new Error(`Kafka storage format failed: ${err.message}\n${stdout}${stderr}`)) : resolve()),
    ),
  );
  const p = supervise('java', [
    '-Xmx512m',
    '-Xms256m',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${log4j}`,
    '-cp',
    cp,
    'kafka.Kafka',
    props,
  ]);
  const brokers = [`127.0.0.1:${port}`];
  const start = async () => {
    p.launch();
    await waitFor(
      `kafka on ${port}`,
      async () => {
        const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 2000, retry: { retries: 0 } }).admin();
        try {
          await admin.connect();
          await admin.listTopics();
          return true;
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      },
      p.alive,
      p.tail,
      90000,
    );
  };
  await start();
  return {
    url: brokers[0],
    brokers,
    stop: (s) => p.stop(s, 30000),
    start,
    tail: p.tail,
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
