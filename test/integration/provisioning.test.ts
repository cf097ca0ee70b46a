import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { z } from 'zod';
import { GatewayMetrics } from '../../src/metrics/gateway.metrics';
import { ROOT } from '../fixtures/gateway-process';
import { DEPLOY_ALERTMANAGER, DEPLOY_PROMETHEUS, DEPLOY_RULES, OVERLOAD_ALERT, overloadRules } from '../fixtures/monitoring';

/**
 * The files that make monitoring come up provisioned (deploy/, docker-compose.yml), checked the
 * way their programs would read them: promtool and amtool for Prometheus and Alertmanager, and
 * for Grafana (not installed here) a parse against the fields its provisioning documents
 * (grafana.com/docs/grafana/latest/administration/provisioning/ and
 * .../alerting/set-up/provision-alerting-resources/file-provisioning/), strict, so a misspelt
 * key fails rather than being ignored by Grafana.
 */

const GRAFANA = path.join(ROOT, 'deploy/grafana/provisioning');
const RULES_TEST = path.join(ROOT, 'deploy/prometheus/rules/gateway.rules.test.yml');
const yamlOf = (file: string) => parse(fs.readFileSync(file, 'utf8'));

/** Metrics the other parts of issue 11 add (the link mover, the webhook, the leader): the dashboard shows them already. */
const ADDED_BY_ISSUE_11 = ['websocket_gateway_link_moves_total', 'websocket_gateway_alerts_received_total', 'websocket_gateway_leader'];

/** every series name the gateway exports: its registry, histograms as their _bucket/_sum/_count series */
function exportedSeries(): Set<string> {
  const metrics = new GatewayMetrics();
  try {
    const names = new Set<string>();
    for (const { name, type } of metrics.registry.getMetricsAsArray() as unknown as { name: string; type: string }[]) {
      names.add(name);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
      if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
    }
    return names;
  } finally {
    metrics.close();
  }
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'inf', 'nan']);

/** The metric names a PromQL expression selects (Grafana's $variables allowed inside matchers and ranges). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // label values
    .replace(/\{[^}]*\}/g, ' ') // matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges, subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  const names: string[] = [];
  for (const m of bare.matchAll(/[A-Za-z_:][\w:]*/g)) {
    const after = bare.slice(m.index! + m[0].length);
    if (/^\s*\(/.test(after) || PROMQL_WORDS.has(m[0].toLowerCase())) continue; // a function or an operator
    const before = bare.slice(0, m.index!);
    if (/[\d.]$/.test(before)) continue; // the exponent or unit of a number
    names.push(m[0]);
  }
  return names;
}

/** N when `expr` ends in "> N" (NaN otherwise) */
const thresholdOf = (expr: string) => Number(/>\s*(\d+(?:\.\d+)?)\s*$/.exec(expr)?.[1]);

function run(cmd: string, args: string[], cwd = ROOT): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60000 });
  if (r.error) throw new Error(`${cmd} could not run (make setup installs it): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

// ---------------------------------------------------------------- Grafana's documented fields
const str = z.string().min(1);
const duration = z.string().regex(/^(\d+(ms|s|m|h|d|w|y))+$/, 'a duration like 30s, 1m, 1h30m');
const labelMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string());

const datasourcesFile = z.strictObject({
  apiVersion: z.literal(1),
  deleteDatasources: z.array(z.strictObject({ name: str, orgId: z.number().int().optional() })).optional(),
  prune: z.boolean().optional(),
  datasources: z
    .array(
      z.strictObject({
        name: str,
        type: str,
        access: z.enum(['proxy', 'direct']),
        orgId: z.number().int().optional(),
        uid: str.max(40).optional(),
        url: z.url().optional(),
        user: z.string().optional(),
        database: z.string().optional(),
        basicAuth: z.boolean().optional(),
        basicAuthUser: z.string().optional(),
        withCredentials: z.boolean().optional(),
        isDefault: z.boolean().optional(),
        jsonData: z.record(z.string(), z.unknown()).optional(),
        secureJsonData: z.record(z.string(), z.string()).optional(),
        version: z.number().int().optional(),
        editable: z.boolean().optional(),
      }),
    )
    .min(1),
});

const dashboardProviders = z.strictObject({
  apiVersion: z.literal(1),
  providers: z
    .array(
      z.strictObject({
        name: str,
        orgId: z.number().int().optional(),
        folder: z.string().optional(),
        folderUid: z.string().optional(),
        type: z.literal('file'),
        disableDeletion: z.boolean().optional(),
        updateIntervalSeconds: z.number().int().min(0).optional(),
        allowUiUpdates: z.boolean().optional(),
        options: z.strictObject({ path: str, foldersFromFilesStructure: z.boolean().optional() }),
      }),
    )
    .min(1),
});

const alertQuery = z.strictObject({
  refId: str,
  datasourceUid: str,
  queryType: z.string().optional(),
  relativeTimeRange: z.strictObject({ from: z.number().int().min(0), to: z.number().int().min(0) }).optional(),
  model: z.looseObject({ refId: str }),
});
const alertRule = z.strictObject({
  uid: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/),
  title: str,
  condition: str,
  data: z.array(alertQuery).min(1),
  dashboardUid: z.string().optional(),
  panelId: z.number().int().optional(),
  noDataState: z.enum(['NoData', 'Alerting', 'OK', 'KeepLast']).optional(),
  execErrState: z.enum(['Error', 'Alerting', 'OK', 'KeepLast']).optional(),
  for: duration,
  annotations: labelMap.optional(),
  labels: labelMap.optional(),
  isPaused: z.boolean().optional(),
});
const alertRulesFile = z.strictObject({
  apiVersion: z.literal(1),
  groups: z.array(z.strictObject({ orgId: z.number().int().optional(), name: str, folder: str, interval: duration, rules: z.array(alertRule).min(1) })).min(1),
  deleteRules: z.array(z.strictObject({ orgId: z.number().int().optional(), uid: str })).optional(),
});

const webhookSettings = z.strictObject({
  url: z.url(),
  httpMethod: z.enum(['POST', 'PUT']).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  authorization_scheme: z.string().optional(),
  authorization_credentials: z.string().optional(),
  maxAlerts: z.union([z.string(), z.number()]).optional(),
  title: z.string().optional(),
  message: z.string().optional(),
  hmacConfig: z.strictObject({ secret: str, header: z.string().optional(), timestampHeader: z.string().optional() }).optional(),
});
const contactPointsFile = z.strictObject({
  apiVersion: z.literal(1),
  contactPoints: z
    .array(
      z.strictObject({
        orgId: z.number().int().optional(),
        name: str,
        receivers: z
          .array(z.strictObject({ uid: str.max(40), type: z.literal('webhook'), settings: webhookSettings, disableResolveMessage: z.boolean().optional() }))
          .min(1),
      }),
    )
    .min(1),
  deleteContactPoints: z.array(z.strictObject({ orgId: z.number().int().optional(), uid: str })).optional(),
});

type Route = { receiver?: string; group_by?: string[]; routes?: Route[] };
const routeFields = {
  receiver: str.optional(),
  group_by: z.array(str).optional(),
  matchers: z.array(str).optional(),
  object_matchers: z.array(z.tuple([str, z.enum(['=', '!=', '=~', '!~']), z.string()])).optional(),
  mute_time_intervals: z.array(str).optional(),
  continue: z.boolean().optional(),
  group_wait: duration.optional(),
  group_interval: duration.optional(),
  repeat_interval: duration.optional(),
  get routes(): z.ZodOptional<z.ZodArray<z.ZodType<Route>>> {
    return z.array(z.strictObject(routeFields) as z.ZodType<Route>).optional();
  },
};
const policiesFile = z.strictObject({
  apiVersion: z.literal(1),
  policies: z.array(z.strictObject({ orgId: z.number().int().optional(), ...routeFields, receiver: str })).min(1),
  resetPolicies: z.array(z.number().int()).optional(),
});

const dsRef = z.looseObject({ type: z.literal('prometheus'), uid: str });
const dashboard = z.looseObject({
  uid: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/),
  title: str,
  schemaVersion: z.number().int(),
  templating: z.looseObject({ list: z.array(z.looseObject({ name: str, type: str, datasource: dsRef.optional(), query: z.unknown() })) }).optional(),
  panels: z
    .array(
      z.looseObject({
        id: z.number().int(),
        type: str,
        title: str,
        gridPos: z.strictObject({ h: z.number().int(), w: z.number().int().max(24), x: z.number().int().min(0).max(23), y: z.number().int().min(0) }),
        datasource: dsRef.optional(),
        targets: z.array(z.looseObject({ refId: str, expr: str, datasource: dsRef })).optional(),
      }),
    )
    .min(1),
});

/** zod's problems, one per line, so a failure names the file and the field */
function parsed<T>(schema: z.ZodType<T>, file: string): T {
  const raw = file.endsWith('.json') ? JSON.parse(fs.readFileSync(file, 'utf8')) : yamlOf(file);
  const r = schema.safeParse(raw);
  if (!r.success) assert.fail(`${path.relative(ROOT, file)}:\n${r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  return r.data;
}

describe('provisioning: the monitoring files in deploy/ are what their programs accept', () => {
  const shipped = yamlOf(DEPLOY_RULES)
    .groups.flatMap((g: { rules: any[] }) => g.rules)
    .find((r: any) => r.alert === OVERLOAD_ALERT);
  const threshold = thresholdOf(shipped?.expr ?? '');

  describe('Prometheus', () => {
    it('promtool check config deploy/prometheus/prometheus.yml (and the rule files it names)', () => {
      const r = run('promtool', ['check', 'config', DEPLOY_PROMETHEUS]);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /SUCCESS: 1 rule files found/, 'the rule_files glob must find gateway.rules.yml (and not its tests)');
    });

    it('promtool check rules deploy/prometheus/rules/gateway.rules.yml', () => {
      const r = run('promtool', ['check', 'rules', DEPLOY_RULES]);
      assert.equal(r.status, 0, r.out);
    });

    it('promtool test rules: GatewayNodeOverloaded fires per instance past the threshold, after `for`, and resolves', () => {
      const r = run('promtool', ['test', 'rules', path.basename(RULES_TEST)], path.dirname(RULES_TEST));
      assert.equal(r.status, 0, r.out);
    });

    it('GatewayNodeOverloaded is `sum by (instance) (websocket_gateway_online_users) > N`, with `for`, severity and a threshold annotation of N', () => {
      assert.ok(shipped, `${OVERLOAD_ALERT} in ${DEPLOY_RULES}`);
      assert.match(shipped.expr, /^sum by \(instance\) \(websocket_gateway_online_users\) > \d+$/);
      assert.ok(threshold > 0);
      assert.equal(shipped.annotations.threshold, String(threshold));
      assert.ok(shipped.annotations.summary, 'a summary annotation');
      assert.match(shipped.for, /^\d+[smh]$/);
      assert.ok(shipped.labels.severity, 'a severity label');
      // what the tests run is this rule with another number: the substitution must find it
      const rewritten = parse(overloadRules(7, 1).yaml).groups[0].rules.find((r: any) => r.alert === OVERLOAD_ALERT);
      assert.equal(rewritten.expr, 'sum by (instance) (websocket_gateway_online_users) > 7');
      assert.equal(rewritten.annotations.threshold, '7');
    });

    it('finds the nodes through /api/sd with the admin bearer, at a production scrape interval, and alerts through Alertmanager', () => {
      const c = yamlOf(DEPLOY_PROMETHEUS);
      assert.equal(c.global.scrape_interval, '15s');
      const sd = c.scrape_configs[0].http_sd_configs?.[0];
      assert.match(sd?.url ?? '', /^http:\/\/gateway:9003\/api\/sd$/);
      assert.equal(sd.authorization.type, 'Bearer');
      assert.ok(sd.authorization.credentials_file || sd.authorization.credentials, 'the admin token');
      assert.ok(c.alerting.alertmanagers[0].static_configs[0].targets.length);
    });
  });

  describe('Alertmanager', () => {
    it('amtool check-config deploy/alertmanager/alertmanager.yml', () => {
      const r = run('amtool', ['check-config', DEPLOY_ALERTMANAGER]);
      assert.equal(r.status, 0, r.out);
    });

    it('routes every alert to /webhook/v1 with the bearer, per alertname and instance, resolved included', () => {
      const c = yamlOf(DEPLOY_ALERTMANAGER);
      assert.deepEqual(c.route.group_by, ['alertname', 'instance']);
      const receiver = c.receivers.find((r: { name: string }) => r.name === c.route.receiver);
      const hook = receiver.webhook_configs[0];
      assert.equal(hook.url, 'http://gateway:9003/webhook/v1');
      assert.equal(hook.send_resolved, true);
      assert.equal(hook.http_config.authorization.type, 'Bearer');
      assert.ok(hook.http_config.authorization.credentials_file || hook.http_config.authorization.credentials);
    });
  });

  describe('Grafana', () => {
    // read in each test, so a bad file fails the tests rather than the suite's setup
    const datasource = () => parsed(datasourcesFile, path.join(GRAFANA, 'datasources/prometheus.yml')).datasources[0];
    let uid: string | undefined;

    it('the data source: documented fields only, Prometheus, with a uid the other files name', () => {
      const ds = { datasources: [datasource()] };
      uid = ds.datasources[0].uid;
      assert.equal(ds.datasources[0].type, 'prometheus');
      assert.ok(uid);
      assert.equal(ds.datasources[0].url, 'http://prometheus:9090');
    });

    it('the dashboard provider: documented fields only, reading the folder docker-compose.yml mounts', () => {
      const p = parsed(dashboardProviders, path.join(GRAFANA, 'dashboards/provider.yml'));
      assert.equal(p.providers[0].options.path, '/etc/grafana/provisioning/dashboards');
    });

    it('the dashboard: every panel queries the provisioned data source, and every query only metrics the gateway exports', () => {
      uid = datasource().uid;
      const d = parsed(dashboard, path.join(GRAFANA, 'dashboards/gateway.json'));
      const known = exportedSeries();
      assert.ok(known.has('websocket_gateway_online_users') && known.has('websocket_gateway_push_latency_seconds_bucket'), 'the registry lists the metrics');
      for (const name of ADDED_BY_ISSUE_11) known.add(name);
      const used = new Set<string>();
      const unknown: string[] = [];
      for (const p of d.panels.filter((x) => x.type !== 'row')) {
        assert.equal(p.datasource?.uid, uid, `panel "${p.title}" data source`);
        assert.ok(p.targets?.length, `panel "${p.title}" has queries`);
        for (const t of p.targets!) {
          assert.equal(t.datasource.uid, uid, `panel "${p.title}" query ${t.refId} data source`);
          const names = metricNames(t.expr);
          assert.ok(names.length, `panel "${p.title}" query ${t.refId} selects a metric: ${t.expr}`);
          for (const n of names) known.has(n) ? used.add(n) : unknown.push(`${p.title}: ${n}`);
        }
      }
      for (const v of d.templating?.list ?? []) {
        const m = /label_values\(\s*([A-Za-z_:][\w:]*)\s*,/.exec(JSON.stringify(v.query));
        if (v.type === 'query') {
          assert.equal(v.datasource?.uid, uid, `variable ${v.name} data source`);
          assert.ok(m, `variable ${v.name}: label_values(<metric>, <label>)`);
          if (!known.has(m[1])) unknown.push(`variable ${v.name}: ${m[1]}`);
        }
      }
      assert.deepEqual(unknown, [], 'metrics the gateway does not export');
      for (const n of ['websocket_gateway_online_users', 'websocket_gateway_connections', 'websocket_gateway_kafka_lag', ...ADDED_BY_ISSUE_11])
        assert.ok(used.has(n), `the dashboard shows ${n}`);
      const ids = d.panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
      const online = d.panels.find((p) => p.title === 'Online users per node') as any;
      const steps = online?.fieldConfig?.defaults?.thresholds?.steps ?? [];
      assert.equal(steps.at(-1)?.value, threshold, 'the online users panel draws the alert threshold');
    });

    it('the alert rule: documented fields only, the instance kept by `sum by (instance)`, the threshold of the Prometheus rule', () => {
      uid = datasource().uid;
      const f = parsed(alertRulesFile, path.join(GRAFANA, 'alerting/rules.yml'));
      const rule = f.groups[0].rules.find((r) => r.title === OVERLOAD_ALERT);
      assert.ok(rule, `a rule titled ${OVERLOAD_ALERT}`);
      const refIds = rule.data.map((q) => q.refId);
      assert.ok(refIds.includes(rule.condition), `condition ${rule.condition} is one of ${refIds}`);
      const prom = rule.data.filter((q) => q.datasourceUid !== '__expr__');
      assert.equal(prom.length, 1);
      assert.equal(prom[0].datasourceUid, uid);
      assert.equal(prom[0].model.expr, 'sum by (instance) (websocket_gateway_online_users)');
      for (const q of rule.data.filter((x) => x.datasourceUid === '__expr__')) {
        assert.ok(['math', 'reduce', 'resample', 'classic_conditions', 'threshold'].includes(String(q.model.type)), `${q.refId} type`);
        if (q.model.expression !== undefined) assert.ok(refIds.includes(String(q.model.expression)), `${q.refId} reads ${q.model.expression}`);
      }
      const cond = rule.data.find((q) => q.refId === rule.condition)!.model as any;
      assert.deepEqual(cond.conditions?.[0]?.evaluator, { type: 'gt', params: [threshold] });
      assert.equal(rule.annotations?.threshold, String(threshold));
      assert.equal(rule.for, shipped.for);
      assert.equal(rule.labels?.severity, shipped.labels.severity);
    });

    it('the contact point posts to /webhook/v1 with the bearer from GATEWAY_WEBHOOK_TOKEN, resolved included; the policy routes to it per instance', () => {
      const cp = parsed(contactPointsFile, path.join(GRAFANA, 'alerting/contact-points.yml'));
      const r = cp.contactPoints[0].receivers[0];
      assert.equal(r.settings.url, 'http://gateway:9003/webhook/v1');
      assert.equal(r.settings.httpMethod, 'POST');
      assert.equal(r.settings.authorization_scheme, 'Bearer');
      assert.match(r.settings.authorization_credentials ?? '', /^\$\{?GATEWAY_WEBHOOK_TOKEN\}?$/);
      assert.notEqual(r.disableResolveMessage, true);
      const pol = parsed(policiesFile, path.join(GRAFANA, 'alerting/policies.yml'));
      assert.equal(pol.policies[0].receiver, cp.contactPoints[0].name);
      assert.deepEqual(pol.policies[0].group_by, ['alertname', 'instance']);
    });

    it('every file under deploy/grafana/provisioning is one of the checked ones', () => {
      const files = fs.readdirSync(GRAFANA, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
      const rel = files.map((e) => path.relative(GRAFANA, path.join(e.parentPath ?? e.path, e.name))).sort();
      assert.deepEqual(rel, [
        'alerting/contact-points.yml',
        'alerting/policies.yml',
        'alerting/rules.yml',
        'dashboards/gateway.json',
        'dashboards/provider.yml',
        'datasources/prometheus.yml',
      ]);
    });
  });

  describe('docker-compose.yml', () => {
    const compose = yamlOf(path.join(ROOT, 'docker-compose.yml'));

    it('mounts files that exist, and hands each service the token file its config reads', () => {
      for (const svc of ['prometheus', 'alertmanager', 'grafana']) {
        const s = compose.services[svc];
        assert.ok(s, `service ${svc}`);
        for (const v of s.volumes ?? []) {
          const src = String(v).split(':')[0];
          assert.ok(fs.existsSync(path.join(ROOT, src)), `${svc} mounts ${src}, which does not exist`);
        }
      }
      const targets = (svc: string) => (compose.services[svc].configs ?? []).map((c: { source: string; target: string }) => c.target);
      assert.ok(targets('prometheus').includes(yamlOf(DEPLOY_PROMETHEUS).scrape_configs[0].http_sd_configs[0].authorization.credentials_file));
      assert.ok(targets('alertmanager').includes(yamlOf(DEPLOY_ALERTMANAGER).receivers[0].webhook_configs[0].http_config.authorization.credentials_file));
      for (const c of [...compose.services.prometheus.configs, ...compose.services.alertmanager.configs])
        assert.ok(compose.configs[c.source], `config ${c.source}`);
      assert.ok(compose.services.grafana.environment.GATEWAY_WEBHOOK_TOKEN, 'Grafana expands GATEWAY_WEBHOOK_TOKEN in its contact point');
      assert.ok(compose.services.prometheus.command.includes('--web.enable-lifecycle'));
      // the gateway's webhook checks the same token Alertmanager and Grafana present
      assert.equal(compose.services.gateway.environment.GATEWAY_WEBHOOK_TOKEN, compose.configs.webhook_token.content);
      assert.equal(compose.services.gateway.environment.GATEWAY_ADMIN_TOKEN, compose.configs.admin_token.content);
      // the balancer fronts that node: same secrets, same etcd, and the node registers a URL the balancer's container reaches
      const balancer = compose.services.balancer.environment;
      assert.equal(balancer.GATEWAY_ROLE, 'balancer');
      assert.equal(balancer.GATEWAY_ADMIN_TOKEN, compose.services.gateway.environment.GATEWAY_ADMIN_TOKEN);
      assert.equal(balancer.GATEWAY_JWT_SECRET, compose.services.gateway.environment.GATEWAY_JWT_SECRET);
      assert.equal(balancer.GATEWAY_ETCD_ENDPOINTS, compose.services.gateway.environment.GATEWAY_ETCD_ENDPOINTS);
      assert.equal(new URL(compose.services.gateway.environment.GATEWAY_GATEWAY_PUBLIC_URL).hostname, 'gateway');
    });

    it('make e2e_up starts Prometheus, Alertmanager and Grafana', () => {
      const make = fs.readFileSync(path.join(ROOT, 'Makefile'), 'utf8');
      const recipe = /^e2e_up:.*\n\t(.*)$/m.exec(make)?.[1] ?? '';
      for (const svc of ['prometheus', 'alertmanager', 'grafana']) assert.match(recipe, new RegExp(`\\b${svc}\\b`));
    });
  });

  it('the PromQL reader finds the metrics of an expression and nothing else', () => {
    assert.deepEqual(metricNames('histogram_quantile(0.99, sum by (biz, le) (rate(a_bucket{node=~"$node",x="y z"}[$__rate_interval])))'), ['a_bucket']);
    assert.deepEqual(metricNames('sum without (pod) (b) / on (instance) group_left (node) c offset 5m > 1e3'), ['b', 'c']);
  });
});
