import { createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configSchema, crossCheck, RawConfig } from './config.schema';

/** The names DESIGN.md promises operators, mapped to their place in the config. */
export const ENV_ALIASES: Readonly<Record<string, string>> = {
  GATEWAY_MODE: 'mode',
  GATEWAY_PORT: 'gateway.port',
  GATEWAY_HOST: 'gateway.host',
  GATEWAY_GOVERNANCE_PORT: 'governance.port',
  GATEWAY_GOVERNANCE_HOST: 'governance.host',
  GATEWAY_NODE_ID: 'node.id',
  GATEWAY_JWT_SECRET: 'auth.jwtSecret',
  GATEWAY_ADMIN_TOKEN: 'governance.adminToken',
  GATEWAY_REDIS_URL: 'redis.url',
  GATEWAY_KAFKA_BROKERS: 'kafka.brokers',
  GATEWAY_ETCD_ENDPOINTS: 'etcd.endpoints',
  GATEWAY_LOG_LEVEL: 'log.level',
};

/** Development defaults for embedded mode only; cluster mode refuses to start without real ones. */
export const DEV_JWT_SECRET = 'dev-only-secret-change-me';
export const DEV_ADMIN_TOKEN = 'dev-only-admin-token';

type Leaf = 'string' | 'number' | 'boolean' | 'array';

type Schema = z.core.$ZodType;

/** The schema under its defaults and optionality: `.default(x)`, `.prefault(x)` and `.optional()` change no key's kind. */
function unwrap(schema: Schema): Schema {
  for (;;) {
    if (schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault || schema instanceof z.ZodOptional) schema = schema.unwrap();
    else return schema;
  }
}

/** How a leaf's env variable is read; a schema kind with no reading from a string is a programming error. */
function kindOf(schema: Schema, at: string): Leaf {
  const type = schema._zod.def.type;
  switch (type) {
    case 'number':
    case 'boolean':
    case 'array':
      return type;
    case 'string': // also the string formats (z.url() and the like)
    case 'enum':
      return 'string';
    default:
      throw new Error(`config schema: ${at} is a ${type}, which no GATEWAY_* variable can set`);
  }
}

const snake = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** Every leaf of the schema: its dotted path, its kind, and the env variable that overrides it. */
export function configLeaves(): { path: string; kind: Leaf; env: string }[] {
  const out: { path: string; kind: Leaf; env: string }[] = [];
  const walk = (schema: Schema, at: string[]) => {
    const s = unwrap(schema);
    if (s instanceof z.ZodObject) {
      for (const [k, v] of Object.entries(s.shape)) walk(v, [...at, k]);
      return;
    }
    out.push({ path: at.join('.'), kind: kindOf(s, at.join('.')), env: 'GATEWAY_' + at.map(snake).join('_') });
  };
  walk(configSchema, []);
  return out;
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown) {
  const keys = dotted.split('.');
  let at = target;
  for (const k of keys.slice(0, -1)) {
    if (typeof at[k] !== 'object' || at[k] === null) at[k] = {};
    at = at[k] as Record<string, unknown>;
  }
  at[keys[keys.length - 1]] = value;
}

function fromEnv(kind: Leaf, raw: string): unknown {
  switch (kind) {
    case 'number': {
      // what is not a number stays the string the operator wrote: "expected number, received string"
      const n = Number(raw);
      return raw.trim() === '' || Number.isNaN(n) ? raw : n;
    }
    case 'boolean':
      return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
    case 'array':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    default:
      return raw;
  }
}

/** zod 4's own words, except where they leave an operator guessing ("expected int, received number" for 1.5). */
const configMessage: z.core.$ZodErrorMap = (issue) =>
  issue.code === 'invalid_type' && issue.expected === 'int' ? `expected an integer, received ${String(issue.input)}` : undefined;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid gateway configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** a config file; defaults to $CONFIG_FILE, then config/config.yaml if present */
  file?: string;
  cwd?: string;
}

export interface LoadedConfig {
  config: RawConfig & { node: { id: string }; gateway: { publicUrl: string } };
  /** what the loader chose for the operator, to be logged at boot */
  notes: string[];
  file?: string;
}

/**
 * Reads the YAML file, applies every GATEWAY_* variable, validates once. Throws ConfigError
 * listing every problem (unknown keys, unknown GATEWAY_* variables, bad values) in one message.
 */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const problems: string[] = [];
  const notes: string[] = [];

  let file = opts.file ?? env.CONFIG_FILE;
  if (!file && fs.existsSync(path.join(cwd, 'config/config.yaml'))) file = 'config/config.yaml';
  let raw: Record<string, unknown> = {};
  if (file) {
    const abs = path.resolve(cwd, file);
    try {
      const parsed = parseYaml(fs.readFileSync(abs, 'utf8')) ?? {};
      if (typeof parsed !== 'object' || Array.isArray(parsed)) problems.push(`${file}: top level must be a mapping`);
      else raw = parsed as Record<string, unknown>;
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  const leaves = configLeaves();
  const byEnv = new Map(leaves.map((l) => [l.env, l]));
  const byPath = new Map(leaves.map((l) => [l.path, l]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('GATEWAY_') || value === undefined) continue;
    const leaf = ENV_ALIASES[name] ? byPath.get(ENV_ALIASES[name]) : byEnv.get(name);
    if (!leaf) {
      problems.push(`${name}: unknown variable (see docs/configuration.md for the list)`);
      continue;
    }
    setPath(raw, leaf.path, fromEnv(leaf.kind, value));
  }

  const result = configSchema.safeParse(raw, { error: configMessage });
  if (!result.success) {
    for (const issue of result.error.issues) {
      const at = issue.path.join('.') || '(root)';
      const leaf = byPath.get(at);
      problems.push(`${at}: ${issue.message}${leaf ? ` (env ${leaf.env})` : ''}`);
    }
  }
  for (const p of crossCheck(raw)) {
    const leaf = byPath.get(p.path);
    problems.push(`${p.path}: ${p.message}${leaf ? ` (env ${leaf.env})` : ''}`);
  }
  if (problems.length || !result.success) throw new ConfigError(problems);

  const c = result.data;
  if (c.mode === 'embedded') {
    if (!c.auth.jwtSecret && c.auth.publicKeys.length === 0) {
      c.auth.jwtSecret = DEV_JWT_SECRET;
      notes.push(`auth.jwtSecret not set: using the development secret "${DEV_JWT_SECRET}" (embedded mode only)`);
    }
    if (!c.governance.adminToken) {
      c.governance.adminToken = DEV_ADMIN_TOKEN;
      notes.push(`governance.adminToken not set: using the development token "${DEV_ADMIN_TOKEN}" (embedded mode only)`);
    }
  }
  c.auth.publicKeys = c.auth.publicKeys.map((k, i) => {
    let pem = k;
    if (!k.includes('-----BEGIN')) {
      try {
        pem = fs.readFileSync(path.resolve(cwd, k), 'utf8');
      } catch (err) {
        problems.push(`auth.publicKeys.${i}: cannot read ${k}: ${(err as Error).message}`);
        return k;
      }
    }
    try {
      const type = createPublicKey(pem).asymmetricKeyType;
      if (type !== 'rsa' && type !== 'ec') problems.push(`auth.publicKeys.${i}: ${type} keys are not supported (RSA or EC)`);
    } catch (err) {
      problems.push(`auth.publicKeys.${i}: not a PEM public key (${(err as Error).message})`);
    }
    return pem;
  });
  if (problems.length) throw new ConfigError(problems);

  const nodeId = c.node.id ?? `${os.hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  const publicUrl = c.gateway.publicUrl ?? `ws://${c.gateway.host === '0.0.0.0' ? os.hostname() : c.gateway.host}:${c.gateway.port}${c.gateway.path}`;
  return { config: { ...c, node: { id: nodeId }, gateway: { ...c.gateway, publicUrl } }, notes, file };
}
