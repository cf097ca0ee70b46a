import { Injectable, OnModuleInit } from '@nestjs/common';
import { BusMessage, Channels, ClusterBus } from '../bus/cluster-bus';
import { Subscriptions } from '../bus/subscriptions';
import { GatewayConfig } from '../config/gateway.config';
import { SessionStore } from '../session/session.store';
import { CloseCode } from './close-codes';
import { LinkManager } from './link.manager';

/**
 * Closes a link by id wherever it is: here at once, on another node through that node's bus
 * channel. The link closes with 4003 and the reason.
 */
@Injectable()
export class KickService implements OnModuleInit {
  constructor(
    private readonly config: GatewayConfig,
    private readonly links: LinkManager,
    private readonly sessions: SessionStore,
    private readonly bus: ClusterBus,
    private readonly subscriptions: Subscriptions,
  ) {}

  async onModuleInit(): Promise<void> {
    this.bus.onMessage((_channel, message) => this.onBus(message));
    await this.subscriptions.acquire(Channels.node(this.config.node.id));
  }

  /** Resolves false if no node holds `sid`. */
  async kick(sid: string, reason: string): Promise<boolean> {
    const local = this.links.registry.get(sid);
    if (local) {
      this.links.closeLink(local, CloseCode.KICKED, reason);
      return true;
    }
    const session = await this.sessions.get(sid);
    if (!session) return false;
    return (await this.bus.publish(Channels.node(session.node), { k: 'kick', sid, reason })) > 0;
  }

  private onBus(message: BusMessage): void {
    if (message.k !== 'kick') return;
    const link = this.links.registry.get(message.sid);
    if (link) this.links.closeLink(link, CloseCode.KICKED, message.reason);
  }
}
