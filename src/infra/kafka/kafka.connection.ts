import { Kafka, logLevel } from 'kafkajs';
import { withTimeout } from '../../common/timeout';

/** The node's Kafka client (the only place kafkajs is constructed). */
export class KafkaConnection {
  readonly client: Kafka;

  private readonly probe: Kafka;

  constructor(brokers: string[], clientId: string) {
    this.client = new Kafka({
      brokers,
      clientId,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3000,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    this.probe = new Kafka({ brokers, clientId: `${clientId}-health`, logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 0 } });
  }

  /**
   * Creates the topics that do not exist yet (idempotent) and waits for their metadata, so a
   * consumer or producer started next does not race the broker's auto-creation.
   */
  async ensureTopics(topics: string[], numPartitions: number): Promise<void> {
    const admin = this.client.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t));
      if (missing.length) await admin.createTopics({ waitForLeaders: true, topics: missing.map((topic) => ({ topic, numPartitions, replicationFactor: -1 })) });
      await admin.fetchTopicMetadata({ topics });
    } finally {
      await admin.disconnect();
    }
  }

  /** Resolves when a broker answers a metadata request within `timeoutMs`. */
  async ping(timeoutMs: number): Promise<void> {
    const admin = this.probe.admin();
    try {
      await withTimeout(
        (async () => {
          await admin.connect();
          await admin.describeCluster();
        })(),
        timeoutMs,
      );
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
