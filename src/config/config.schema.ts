import { z } from 'zod';

const port = z.number().int().min(0).max(65535);
const ms = z.number().int().positive();
const nonEmpty = z.string().min(1);
/** a section: unknown keys are refused, not dropped */
const strictObject = z.strictObject;

/**
 * Every setting of a node. Defaults make `embedded` mode run with no file at all; `cluster` mode
 * must name its Redis, Kafka and etcd and real secrets (see the refinements at the bottom).
 * A section ends in `.prefault({})`: an absent section is parsed as `{}`, so its keys' defaults
 * apply (zod 4's `.default({})` would hand back the bare `{}` unparsed).
 */
export const configSchema = z
  .object({
    mode: z.enum(['embedded', 'cluster']).default('embedded'),
    /** what this process is: a gateway node, or the :8080 balancer in front of the nodes (cluster mode) */
    role: z.enum(['node', 'balancer']).default('node'),
    node: strictObject({
      /** unique per process; defaults to <hostname>-<pid> */
      id: z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - only (1-64)')
        .optional(),
    }).prefault({}),
    gateway: strictObject({
      host: nonEmpty.default('127.0.0.1'),
      port: port.default(9002),
      path: z.string().startsWith('/').default('/ws'),
      /** the ws URL other parts advertise for this node; defaults to ws://<host>:<port><path> */
      publicUrl: z.url().optional(),
      /** links this node accepts before answering 503 */
      maxConnections: z.number().int().positive().default(10000),
    }).prefault({}),
    upgrader: strictObject({
      /** Origin header values allowed to upgrade; empty = any (non-browser clients send none) */
      allowedOrigins: z.array(nonEmpty).default([]),
      /** upgrades per source IP per window before 429 */
      ratePerIp: z.number().int().positive().default(100),
      rateWindowSec: z.number().int().positive().default(1),
      /**
       * addresses or networks (10.0.0.0/8) of proxies in front of the node (our balancer, HAProxy, nginx) whose
       * X-Forwarded-For is believed: the client's address (rate limit, session ip) is then the
       * right-most forwarded address that is not itself a trusted proxy. Empty: the socket's peer
       */
      trustedProxies: z
        .array(z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], { error: 'expected an IP address (10.0.0.5, ::1) or a network (10.0.0.0/8)' }))
        .default([]),
    }).prefault({}),
    auth: strictObject({
      /** HS256 shared secret */
      jwtSecret: z.string().optional(),
      /** PEM public keys (inline or a path to a .pem file) for RS256 / ES256 */
      publicKeys: z.array(nonEmpty).default([]),
      algorithms: z
        .array(z.enum(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512']))
        .min(1)
        .default(['HS256', 'RS256', 'ES256']),
      issuer: z.string().optional(),
      audience: z.string().optional(),
      clockToleranceSec: z.number().int().min(0).default(5),
      /** tokens without `exp` are refused unless this is set (development only) */
      allowNoExp: z.boolean().default(false),
    }).prefault({}),
    link: strictObject({
      heartbeatMs: ms.default(25000),
      /** pings left unanswered before the peer is taken for dead and terminated */
      maxMissedPongs: z.number().int().min(1).default(2),
      /** largest frame a client may send; larger closes the link with 1009 */
      maxPayloadBytes: z
        .number()
        .int()
        .min(1024)
        .default(512 * 1024),
      /** bytes queued for one link (ours + the socket's) before it is closed as slow (4008) */
      sendQueueMaxBytes: z
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024),
      /** `req` frames of one link waiting for their ack; the next gets ack 429 */
      maxInflightRequests: z.number().int().min(1).default(32),
    }).prefault({}),
    codec: strictObject({ default: z.enum(['json', 'protobuf']).default('json') }).prefault({}),
    session: strictObject({
      cacheMax: z.number().int().positive().default(10000),
      cacheTtlMs: ms.default(5000),
      /** how often a node checks the directory against the links it holds (and at every Redis reconnect) */
      reconcileIntervalMs: ms.default(15000),
    }).prefault({}),
    redis: strictObject({ url: z.url().default('redis://127.0.0.1:6379'), keyPrefix: z.string().default('gw:') }).prefault({}),
    kafka: strictObject({
      brokers: z.array(nonEmpty).default(['127.0.0.1:9092']),
      clientId: nonEmpty.default('ws-gateway'),
    }).prefault({}),
    etcd: strictObject({
      endpoints: z.array(nonEmpty).default(['http://127.0.0.1:2379']),
      prefix: z.string().default('/gateway/nodes/'),
      /** the operator loop's keys (alerts, requests, directives, leader); unset = beside `prefix` (/gateway/nodes/ -> /gateway/control/) */
      controlPrefix: z.string().optional(),
      leaseTtlSec: z.number().int().min(2).default(10),
      loadIntervalMs: ms.default(3000),
    }).prefault({}),
    push: strictObject({
      /** consume gateway.push from Kafka (cluster mode); off leaves only POST /api/push */
      consume: z.boolean().default(true),
      topic: nonEmpty.default('gateway.push'),
      groupId: nonEmpty.default('ws-gateway'),
      dlqTopic: nonEmpty.default('gateway.push.dlq'),
      /**
       * where a consumer group with no committed offset starts: earliest loses nothing (a new
       * group replays what the topic retains, dropped by mid only within the dedup window);
       * latest skips what was produced before the group first owned a partition
       */
      startFrom: z.enum(['earliest', 'latest']).default('earliest'),
      /** partitions of the topics the gateway creates when they do not exist */
      partitions: z.number().int().min(1).default(12),
      eventsTopic: nonEmpty.default('gateway.events'),
      /** larger records go to the DLQ */
      maxEnvelopeBytes: z
        .number()
        .int()
        .min(1024)
        .default(256 * 1024),
      /** biz ids the gateway serves; a record for another goes to the DLQ. Empty: any */
      bizIds: z.array(nonEmpty).default([]),
      /** partitions of gateway.push each consumer handles at the same time */
      partitionConcurrency: z.number().int().min(1).max(256).default(12),
      /**
       * group members (kafkajs consumers) this node runs: kafkajs fetches again only once a
       * fetch's batches are handled, so a second member keeps the CPU busy meanwhile
       */
      consumers: z.number().int().min(1).max(16).default(2),
      /** records handled concurrently (different users); one user's records stay in order */
      concurrency: z.number().int().min(1).max(1024).default(256),
    }).prefault({}),
    mailbox: strictObject({
      maxEntries: z.number().int().min(1).default(100),
      ttlSec: z.number().int().min(1).default(1800),
      /** how long a mid is remembered to drop redeliveries */
      dedupTtlSec: z.number().int().min(1).default(600),
    }).prefault({}),
    backend: strictObject({
      /** fixed backends, `<bizId>=<host:port>` each (no etcd needed); used with the ones etcd lists */
      static: z.array(z.string().regex(/^[^=\s]+=[^=\s]+:\d{1,5}$/, 'expected <bizId>=<host:port>')).default([]),
      /** where backends register in etcd (cluster mode): <prefix><bizId>/<instance> = {"addr": "host:port"} */
      etcdPrefix: nonEmpty.default('/services/backends/'),
      /** the built-in echo backend answers every req: auto = in embedded mode when no backend is configured */
      echo: z.enum(['auto', 'on', 'off']).default('auto'),
      /** deadline of one request, retries included */
      timeoutMs: ms.default(5000),
      /** retries on another instance, only for a request that cannot have reached a backend (unless idempotent) */
      retries: z.number().int().min(0).max(5).default(2),
      /** bizs whose requests may be retried even when a backend may have seen them */
      idempotentBizIds: z.array(nonEmpty).default([]),
      /** requests of one biz in flight at once, past which its next ones get 503 (a slow biz never holds another) */
      maxConcurrentPerBiz: z.number().int().min(1).default(512),
      /** consecutive failures that open an instance's circuit */
      breakerFailures: z.number().int().min(1).default(5),
      /** an open circuit lets one probe through after this */
      breakerHalfOpenMs: ms.default(5000),
    }).prefault({}),
    rooms: strictObject({
      /** biz ids whose client joins need the backend's approval; others may join freely */
      approvalBizIds: z.array(nonEmpty).default([]),
    }).prefault({}),
    governance: strictObject({
      host: nonEmpty.default('127.0.0.1'),
      port: port.default(9003),
      adminToken: z.string().optional(),
      /** how long a health dependency may take to answer before it counts as down */
      healthTimeoutMs: ms.default(1500),
      /** how often GET /api/live (the admin UI's stream) sends a fresh overview */
      liveIntervalMs: ms.min(250).default(2000),
    }).prefault({}),
    webhook: strictObject({
      /** `Authorization: Bearer <token>` on POST /webhook/v1 (Alertmanager's http_config.authorization, Grafana's header credentials) */
      token: z.string().optional(),
      /** HTTP basic auth on POST /webhook/v1 (both or neither) */
      basicUser: z.string().optional(),
      basicPassword: z.string().optional(),
      /** Grafana's HMAC-SHA256 signature of `<timestamp>:<body>` (the contact point's HMAC secret) */
      hmacSecret: z.string().optional(),
      /** the header Grafana puts the hex signature in (its default) */
      hmacHeader: nonEmpty.default('X-Grafana-Alerting-Signature'),
      /** the header Grafana puts the Unix timestamp in (set the same name as the contact point's timestamp header; a signature without it is refused) */
      hmacTimestampHeader: nonEmpty.default('X-Grafana-Alerting-Timestamp'),
      /** a signed request whose timestamp is further than this from now is refused as a replay */
      replayWindowMs: ms.default(300000),
      /** larger bodies get 413 */
      maxBodyBytes: z
        .number()
        .int()
        .min(1024)
        .default(256 * 1024),
      /** how long an alert's record stays in etcd (its idempotency window); its expiry is no resolution */
      alertTtlSec: z.number().int().min(60).default(3600),
    }).prefault({}),
    rebalance: strictObject({
      /** the leader moves links from the fullest to the emptiest running nodes when their loads differ by more than the threshold */
      enabled: z.boolean().default(true),
      /** allowed spread (fullest - emptiest) as a share of the mean load */
      thresholdRatio: z.number().positive().default(0.2),
      /** and at least this many links: small clusters are left alone */
      minLinks: z.number().int().min(0).default(100),
      /** how long the spread must last before links move (a node that joined counts once it settled) */
      forMs: ms.default(30000),
      /** a node that joined counts after this long (its first links, its load published) */
      settleMs: ms.default(5000),
      /** a rebalance move not met by then is ended (the node is set back to normal) */
      moveTimeoutMs: ms.default(120000),
      /** how often the leader compares the nodes' loads */
      intervalMs: ms.default(2000),
    }).prefault({}),
    shutdown: strictObject({
      /** how long a drain waits for links to go before it drops the rest */
      drainTimeoutMs: ms.default(10000),
      /**
       * what the rest of a shutdown (closing Redis, etcd, Kafka) may take after the drain: a
       * process still running drainTimeoutMs + graceMs after the signal exits with code 1
       */
      graceMs: ms.default(5000),
    }).prefault({}),
    /** moving links off this node (issue 11): the alert's target, and the pacing of shed/rebalance/drain directives and the SIGTERM drain */
    shedding: strictObject({
      /** an alert's node sheds down to its threshold minus this share of it (or its links minus this share, with no threshold) */
      marginRatio: z.number().min(0).max(1).default(0.1),
      /** a fixed target for every alert's shed, instead of the threshold minus the margin */
      targetLinks: z.number().int().min(0).optional(),
      /** links moved per second (redirect + close 4010), spread evenly in small batches every 50 ms */
      movesPerSec: z.number().int().min(1).max(100000).default(200),
      /** the Retry-After (seconds) of the 503 a shedding or draining node answers new upgrades with */
      retryAfterSec: z.number().int().min(0).max(3600).default(5),
      /** how long the peer list (from etcd) is reused for 503 bodies and peer choice */
      peerCacheMs: ms.default(1000),
      /**
       * the share of shutdown.drainTimeoutMs a drain spreads its redirects over: the drain's
       * rate is max(movesPerSec, links / (drainSpreadRatio x drainTimeoutMs))
       */
      drainSpreadRatio: z.number().gt(0).max(1).default(0.8),
    }).prefault({}),
    /** the balancer role (GATEWAY_ROLE=balancer): one port for /ws (proxied to a node), /api/dispatch, the API and the UI */
    balancer: strictObject({
      host: nonEmpty.default('127.0.0.1'),
      port: port.default(8080),
      /** how a new link picks its node: in turn, the fewest links (live load), or by user id (a user's links land together) */
      strategy: z.enum(['round_robin', 'least_conn', 'consistent_hash']).default('least_conn'),
      /** how often each node's /health/ready is probed; a node failing a probe or an upgrade is out at once, back when a probe passes */
      checkIntervalMs: ms.default(10000),
      /** a probe not answered within this fails */
      checkTimeoutMs: ms.default(2000),
      /** nodes an upgrade is tried on (a node refusing with 503 or not answering) before the client gets 503 */
      upgradeAttempts: z.number().int().min(1).max(10).default(3),
      /** connecting to a node and reading its upgrade answer may take this long before the next node is tried */
      connectTimeoutMs: ms.default(3000),
      /** the admin API calls the balancer passes on to a node (kick, push, clients) may take this long */
      forwardTimeoutMs: ms.default(5000),
    }).prefault({}),
    log: strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
  })
  .strict();

export type RawConfig = z.infer<typeof configSchema>;

/**
 * Checks across keys, run on the raw input (before defaults) so they are reported together
 * with the schema's own problems rather than only once those are fixed.
 */
export function crossCheck(raw: Record<string, any>): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const auth = raw.auth ?? {};
  const governance = raw.governance ?? {};
  const gateway = raw.gateway ?? {};
  if (raw.mode === 'cluster') {
    if (!auth.jwtSecret && !(Array.isArray(auth.publicKeys) && auth.publicKeys.length))
      problems.push({ path: 'auth.jwtSecret', message: 'cluster mode needs auth.jwtSecret or auth.publicKeys' });
    if (!governance.adminToken) problems.push({ path: 'governance.adminToken', message: 'cluster mode needs an admin token' });
  }
  if (typeof auth.jwtSecret === 'string' && auth.jwtSecret.length < 16) problems.push({ path: 'auth.jwtSecret', message: 'must be at least 16 characters' });
  if (typeof governance.adminToken === 'string' && governance.adminToken.length < 16)
    problems.push({ path: 'governance.adminToken', message: 'must be at least 16 characters' });
  const webhook = raw.webhook ?? {};
  if ((webhook.basicUser === undefined) !== (webhook.basicPassword === undefined))
    problems.push({
      path: webhook.basicUser === undefined ? 'webhook.basicUser' : 'webhook.basicPassword',
      message: 'basic auth needs both webhook.basicUser and webhook.basicPassword',
    });
  for (const key of ['token', 'hmacSecret', 'basicPassword'] as const)
    if (typeof webhook[key] === 'string' && webhook[key].length < 16) problems.push({ path: `webhook.${key}`, message: 'must be at least 16 characters' });
  if (raw.role === 'balancer' && raw.mode !== 'cluster')
    problems.push({ path: 'role', message: 'the balancer finds its nodes in etcd: set mode to cluster (GATEWAY_MODE=cluster)' });
  const gwPort = gateway.port ?? 9002;
  if (gwPort !== 0 && gwPort === (governance.port ?? 9003) && (gateway.host ?? '127.0.0.1') === (governance.host ?? '127.0.0.1'))
    problems.push({ path: 'governance.port', message: 'must differ from gateway.port' });
  return problems;
}
