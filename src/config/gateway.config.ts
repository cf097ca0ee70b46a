import type { LoadedConfig } from './config.loader';

type Resolved = LoadedConfig['config'];

/**
 * The one typed, validated configuration, injected by class. Built once at boot by
 * loadConfig(); nothing else reads the environment or config files.
 */
export class GatewayConfig {
  readonly mode!: Resolved['mode'];
  readonly role!: Resolved['role'];
  readonly node!: Resolved['node'];
  readonly gateway!: Resolved['gateway'];
  readonly upgrader!: Resolved['upgrader'];
  readonly auth!: Resolved['auth'];
  readonly link!: Resolved['link'];
  readonly codec!: Resolved['codec'];
  readonly session!: Resolved['session'];
  readonly redis!: Resolved['redis'];
  readonly kafka!: Resolved['kafka'];
  readonly etcd!: Resolved['etcd'];
  readonly governance!: Resolved['governance'];
  readonly push!: Resolved['push'];
  readonly mailbox!: Resolved['mailbox'];
  readonly rooms!: Resolved['rooms'];
  readonly backend!: Resolved['backend'];
  readonly webhook!: Resolved['webhook'];
  readonly rebalance!: Resolved['rebalance'];
  readonly shutdown!: Resolved['shutdown'];
  readonly shedding!: Resolved['shedding'];
  readonly balancer!: Resolved['balancer'];
  readonly log!: Resolved['log'];

  static from(config: Resolved): GatewayConfig {
    return Object.freeze(Object.assign(new GatewayConfig(), config));
  }
}
