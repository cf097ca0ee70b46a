import { Injectable } from '@nestjs/common';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { checkEnvelope, Envelope, envelopeFromProtobuf } from './envelope';
import { DeadLetter, PushSource, RawRecord } from './push-source';
import { PushRouter } from './push.router';
import { runKeyed } from './keyed';

const log = logger('push-consumer');
export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';

/**
 * Turns a batch of records into pushes. Bad records (too large, not JSON/protobuf, invalid,
 * unknown biz) become dead letters and the batch goes on. Good records run concurrently across
 * keys (target users) and in order within a key. Any failure to store or route (Redis down)
 * rejects the whole batch, which is then redelivered: the dedup by mid makes that safe, and a
 * record without a mid gets its Kafka coordinates as one, so a redelivery has the same mid.
 */
@Injectable()
export class PushConsumer {
  private readonly bizIds: ReadonlySet<string>;

  constructor(
    private readonly source: PushSource,
    private readonly push: PushRouter,
    private readonly config: GatewayConfig,
  ) {
    this.bizIds = new Set(config.push.bizIds);
  }

  start(): Promise<void> {
    return this.source.start((records) => this.handleBatch(records));
  }

  stop(): Promise<void> {
    return this.source.stop();
  }

  /** Exposed for tests: the whole per-batch contract without Kafka. */
  async handleBatch(records: RawRecord[]): Promise<DeadLetter[]> {
    const dead: DeadLetter[] = [];
    const good: { record: RawRecord; envelope: Envelope }[] = [];
    for (const record of records) {
      const parsed = this.parse(record);
      if ('reason' in parsed) dead.push(parsed);
      else good.push(parsed);
    }
    if (dead.length) log.warn({ dead: dead.map((d) => ({ ref: d.record.ref, reason: d.reason, detail: d.detail })) }, 'records sent to the dead-letter topic');
    await runKeyed(
      good,
      ({ record, envelope }) => record.key ?? envelope.to.users?.[0] ?? record.ref,
      this.config.push.concurrency,
      ({ record, envelope }) => this.push.push(envelope, 'kafka', record.ref),
    );
    return dead;
  }

  private parse(record: RawRecord): { record: RawRecord; envelope: Envelope } | DeadLetter {
    const value = record.value;
    if (!value || value.length === 0) return { record, reason: 'malformed', detail: 'empty record value' };
    if (value.length > this.config.push.maxEnvelopeBytes)
      return { record, reason: 'too_large', detail: `${value.length} bytes > push.maxEnvelopeBytes ${this.config.push.maxEnvelopeBytes}` };
    let raw: unknown;
    const contentType = record.headers['content-type'] ?? 'application/json';
    try {
      raw = contentType.startsWith(PROTOBUF_CONTENT_TYPE) ? envelopeFromProtobuf(value) : JSON.parse(value.toString('utf8'));
    } catch (err) {
      return { record, reason: 'malformed', detail: `not a ${contentType} envelope: ${(err as Error).message}` };
    }
    const checked = checkEnvelope(raw, this.bizIds);
    if (!checked.ok) return { record, reason: checked.reason, detail: checked.problems.map((p) => `${p.field}: ${p.message}`).join('; ') };
    return { record, envelope: checked.envelope };
  }
}
