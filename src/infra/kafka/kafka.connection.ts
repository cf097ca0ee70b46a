import { Kafka, logLevel } from 'kafkajs';

/** The node's Kafka client (the only place kafkajs is constructed). */
export class KafkaConnection {
  readonly kafka: Kafka;

  constructor(brokers: string[], clientId: string) {
    this.kafka = new Kafka({ brokers, clientId, logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 0 } });
  }

  /** Resolves when a broker answers a metadata request within `timeoutMs`. */
  async ping(timeoutMs: number): Promise<void> {
    const admin = this.kafka.admin();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => {
          await admin.connect();
          await admin.describeCluster();
        })(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
      await admin.disconnect().catch(() => undefined);
    }
  }
}
