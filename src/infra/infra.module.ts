import { DynamicModule, Global, Module, Provider } from '@nestjs/common';
import { ClusterBus } from '../bus/cluster-bus';
import { NodeRegistry } from '../cluster/node-registry';
import { DependencyProbes } from '../common/probe';
import { GatewayConfig } from '../config/gateway.config';
import { SessionStore } from '../session/session.store';
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
  static forRoot(config: GatewayConfig): DynamicModule {
    const providers: Provider[] = config.mode === 'embedded' ? InfraModule.embedded() : InfraModule.cluster(config);
    return { module: InfraModule, providers, exports: [SessionStore, ClusterBus, NodeRegistry, DependencyProbes] };
  }

  private static embedded(): Provider[] {
    return [
      { provide: SessionStore, useValue: new MemorySessionStore() },
      { provide: ClusterBus, useValue: new MemoryClusterBus() },
      { provide: NodeRegistry, useValue: new MemoryNodeRegistry() },
      { provide: DependencyProbes, useValue: { probes: [] } },
    ];
  }

  private static cluster(config: GatewayConfig): Provider[] {
    const redis = new RedisConnection(config.redis.url, config.redis.keyPrefix);
    const etcd = new EtcdConnection(config.etcd.endpoints);
    const kafka = new KafkaConnection(config.kafka.brokers, config.kafka.clientId);
    return [
      { provide: SessionStore, useValue: new RedisSessionStore(redis, config.session.cacheMax, config.session.cacheTtlMs) },
      { provide: ClusterBus, useValue: new RedisClusterBus(redis) },
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
      { provide: InfraLifecycle, useValue: new InfraLifecycle([() => redis.waitReady(10000), () => etcd.ping(10000)], [() => redis.close(), () => etcd.close()]) },
    ];
  }
}
