import { DynamicModule, Global, Module, Provider } from '@nestjs/common';
import { ClusterBus } from '../bus/cluster-bus';
import { NodeRegistry } from '../cluster/node-registry';
import { DependencyProbes } from '../common/probe';
import { GatewayConfig } from '../config/gateway.config';
import { SessionStore } from '../session/session.store';
import { EventSink } from '../events/event.sink';
import { Mailbox } from '../mailbox/mailbox';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { NoPushSource, PushSource } from '../push/push-source';
import { RoomStore } from '../rooms/room.store';
import { KafkaEventSink } from './kafka/kafka-event.sink';
import { KafkaPushSource } from './kafka/kafka-push.source';
import { MemoryEventSink } from './memory/memory-event.sink';
import { MemoryMailbox } from './memory/memory-mailbox';
import { MemoryRoomStore } from './memory/memory-room.store';
import { RedisMailbox } from './redis/redis-mailbox';
import { RedisRoomStore } from './redis/redis-room.store';
import { EtcdConnection } from './etcd/etcd.connection';
import { EtcdNodeRegistry } from './etcd/etcd-node.registry';
import { KafkaConnection } from './kafka/kafka.connection';
import { MemoryClusterBus } from './memory/memory-cluster.bus';
import { MemoryNodeRegistry } from './memory/memory-node.registry';
import { MemorySessionStore } from './memory/memory-session.store';
import { RedisClusterBus } from './redis/redis-cluster.bus';
import { RedisConnection } from './redis/redis.connection';
import { RedisSessionStore } from './redis/redis-session.store';

/** Waits for the connections at boot (a clear error if one is unreachable), closes them at the end. */
class InfraLifecycle {
  constructor(
    private readonly openers: (() => Promise<void>)[],
    private readonly closers: (() => Promise<void> | void)[],
  ) {}
  async onModuleInit(): Promise<void> {
    await Promise.all(this.openers.map((open) => open()));
  }
  async onApplicationShutdown(): Promise<void> {
    for (const close of this.closers) await close();
  }
}

/**
 * Binds every port to its adapter for the configured mode: memory adapters in embedded mode,
 * Redis / etcd / Kafka in cluster mode. The rest of the node sees only the ports.
 */
@Global()
@Module({})
export class InfraModule {
  static forRoot(config: GatewayConfig, metrics: GatewayMetrics): DynamicModule {
    const providers: Provider[] = config.mode === 'embedded' ? InfraModule.embedded(config) : InfraModule.cluster(config, metrics);
    return { module: InfraModule, providers, exports: [SessionStore, ClusterBus, NodeRegistry, DependencyProbes, Mailbox, RoomStore, EventSink, PushSource] };
  }

  private static embedded(config: GatewayConfig): Provider[] {
    const { maxEntries, ttlSec, dedupTtlSec } = config.mailbox;
    return [
      { provide: Mailbox, useValue: new MemoryMailbox(maxEntries, ttlSec, dedupTtlSec) },
      { provide: RoomStore, useValue: new MemoryRoomStore() },
      { provide: EventSink, useValue: new MemoryEventSink() },
      { provide: PushSource, useValue: new NoPushSource() },
      { provide: SessionStore, useValue: new MemorySessionStore() },
      { provide: ClusterBus, useValue: new MemoryClusterBus() },
      { provide: NodeRegistry, useValue: new MemoryNodeRegistry() },
      { provide: DependencyProbes, useValue: { probes: [] } },
    ];
  }

  private static cluster(config: GatewayConfig, metrics: GatewayMetrics): Provider[] {
    const redis = new RedisConnection(config.redis.url, config.redis.keyPrefix);
    const etcd = new EtcdConnection(config.etcd.endpoints);
    const kafka = new KafkaConnection(config.kafka.brokers, config.kafka.clientId);
    const events = new KafkaEventSink(kafka, config.push.eventsTopic, metrics);
    const { maxEntries, ttlSec, dedupTtlSec } = config.mailbox;
    const { topic, groupId, dlqTopic } = config.push;
    return [
      { provide: Mailbox, useValue: new RedisMailbox(redis, maxEntries, ttlSec, dedupTtlSec, config.node.id) },
      { provide: RoomStore, useValue: new RedisRoomStore(redis) },
      { provide: EventSink, useValue: events },
      {
        provide: PushSource,
        useValue: config.push.consume
          ? new KafkaPushSource(
              kafka,
              {
                topic,
                groupId,
                dlqTopic,
                extraTopics: [config.push.eventsTopic],
                partitions: config.push.partitions,
                startFrom: config.push.startFrom,
                partitionConcurrency: config.push.partitionConcurrency,
                consumers: config.push.consumers,
              },
              metrics,
            )
          : new NoPushSource(),
      },
      { provide: SessionStore, useValue: new RedisSessionStore(redis, config.session.cacheMax, config.session.cacheTtlMs) },
      { provide: ClusterBus, useValue: new RedisClusterBus(redis, config.node.id) },
      { provide: NodeRegistry, useValue: new EtcdNodeRegistry(etcd, config.etcd.prefix, config.etcd.leaseTtlSec) },
      {
        provide: DependencyProbes,
        useValue: {
          probes: [
            { name: 'redis', check: (t: number) => redis.ping(t) },
            { name: 'etcd', check: (t: number) => etcd.ping(t) },
            { name: 'kafka', check: (t: number) => kafka.ping(t) },
          ],
        },
      },
      {
        provide: InfraLifecycle,
        useValue: new InfraLifecycle([() => redis.waitReady(10000), () => etcd.ping(10000)], [() => events.close(), () => redis.close(), () => etcd.close()]),
      },
    ];
  }
}
