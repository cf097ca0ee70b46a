import { z } from 'zod';
import { FieldProblem, zodProblems } from '../bad-request';

/**
 * The two bodies POST /webhook/v1 takes, as their senders document them:
 *
 * - Alertmanager's webhook_config: `{version: "4", groupKey, truncatedAlerts, status, receiver,
 *   groupLabels, commonLabels, commonAnnotations, externalURL, alerts: [{status, labels,
 *   annotations, startsAt, endsAt, generatorURL, fingerprint}]}`;
 * - Grafana's webhook contact point: the same fields (with `version: "1"`) plus `orgId`, `title`,
 *   `state`, `message`, and per alert `values`, `valueString`, `dashboardURL`, `panelURL`,
 *   `silenceURL`, `imageURL`.
 *
 * Fields we do not use are not checked beyond their type, and unknown ones pass: both senders
 * add fields across versions, and refusing those would lose alerts.
 */
const labels = z.record(z.string(), z.string());

const alert = z.looseObject({
  status: z.enum(['firing', 'resolved']),
  labels,
  annotations: labels.optional(),
  startsAt: z.string().refine((s) => Number.isFinite(Date.parse(s)), 'expected an RFC 3339 time'),
  endsAt: z.string().optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().min(1).max(256).optional(),
  // Grafana
  values: z.record(z.string(), z.number().nullable()).nullable().optional(),
  valueString: z.string().optional(),
  dashboardURL: z.string().optional(),
  panelURL: z.string().optional(),
  silenceURL: z.string().optional(),
});

const common = {
  receiver: z.string(),
  status: z.enum(['firing', 'resolved']),
  alerts: z.array(alert).max(1000),
  groupLabels: labels.optional(),
  commonLabels: labels.optional(),
  commonAnnotations: labels.optional(),
  externalURL: z.string().optional(),
  groupKey: z.string().optional(),
  truncatedAlerts: z.number().int().min(0).optional(),
};

export const alertmanagerPayload = z.looseObject({ ...common, version: z.literal('4') });

export const grafanaPayload = z.looseObject({
  ...common,
  version: z.string(),
  orgId: z.number().int(),
  title: z.string().optional(),
  state: z.string().optional(),
  message: z.string().optional(),
});

export type WebhookAlert = z.infer<typeof alert>;

export interface ParsedWebhook {
  source: 'alertmanager' | 'grafana';
  alerts: WebhookAlert[];
  truncatedAlerts: number;
}

/**
 * Which sender, then its schema: `orgId` is Grafana's alone; otherwise the body must be
 * Alertmanager's version 4. Problems name the field as a dotted path (`alerts.0.startsAt`).
 */
export function parseWebhook(body: unknown): { ok: true; payload: ParsedWebhook } | { ok: false; problems: FieldProblem[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, problems: [{ field: '(body)', message: 'expected a JSON object (an Alertmanager or Grafana webhook payload)' }] };
  const grafana = 'orgId' in body;
  if (!grafana && (body as { version?: unknown }).version !== '4')
    return {
      ok: false,
      problems: [{ field: 'version', message: 'expected "4" (Alertmanager webhook_config), or a Grafana webhook payload (with orgId)' }],
    };
  const r = (grafana ? grafanaPayload : alertmanagerPayload).safeParse(body);
  if (!r.success) return { ok: false, problems: zodProblems(r.error) };
  return { ok: true, payload: { source: grafana ? 'grafana' : 'alertmanager', alerts: r.data.alerts, truncatedAlerts: r.data.truncatedAlerts ?? 0 } };
}

const num = (s: string | undefined): number | undefined => {
  if (s === undefined || s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
};

/** the alert's threshold: annotation `threshold`, else label `threshold` */
export function thresholdOf(a: WebhookAlert): number | undefined {
  return num(a.annotations?.threshold) ?? num(a.labels.threshold);
}

/** the alert's value: annotation `value`, else Grafana's `values` (the first finite one, in key order) */
export function valueOf(a: WebhookAlert): number | undefined {
  const annotated = num(a.annotations?.value);
  if (annotated !== undefined) return annotated;
  if (!a.values) return undefined;
  for (const k of Object.keys(a.values).sort()) {
    const v = a.values[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}
