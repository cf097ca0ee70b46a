import { Injectable, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { BusMessage, Channels, ClusterBus } from '../bus/cluster-bus';
import { Codec } from '../codec/codec';
import { logger } from '../common/logger';
import { GatewayConfig } from '../config/gateway.config';
import { Link } from '../link/link';
import { CloseCode } from '../link/close-codes';
import { LinkManager } from '../link/link.manager';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { SessionStore } from '../session/session.store';
import { Envelope } from './envelope';

const log = logger('push');

export class UnsupportedTargetError extends Error {}

export interface PushResult {
  mid: string;
  /** nodes the push was handed to (user / biz channels) or links addressed (links) */
  routed: number;
  /** link ids named in to.links that no node holds */
  unknownLinks?: string[];
}

/**
 * Routes accepted envelopes to the nodes that hold their targets, and delivers what reaches
 * this node to its local links. A push frame is encoded once per codec per node, whatever
 * the number of local links it goes to.
 */
@Injectable()
export class PushService implements OnModuleInit {
  constructor(
    private readonly config: GatewayConfig,
    private readonly bus: ClusterBus,
    private readonly sessions: SessionStore,
    private readonly links: LinkManager,
    private readonly metrics: GatewayMetrics,
  ) {}

  private started?: Promise<void>;

  /** Idempotent: the governance app shares this instance, and Nest runs hooks once per app. */
  onModuleInit(): Promise<void> {
    this.started ??= (async () => {
      this.bus.onMessage((channel, message) => this.onBus(channel, message));
      await this.bus.subscribe(Channels.node(this.config.node.id));
    })();
    return this.started;
  }

  async push(env: Envelope, source: string): Promise<PushResult> {
    const mid = env.mid ?? randomUUID();
    const message: BusMessage = { k: 'push', mid, body: env.body, ts: Date.now() };
    this.metrics.pushesAccepted.inc({ source });
    const { to } = env;
    if (to.room !== undefined) throw new UnsupportedTargetError('room targets are not supported yet');
    if (to.all) return { mid, routed: await this.bus.publish(Channels.biz(env.bizId), message) };
    if (to.users) {
      const counts = await Promise.all(to.users.map((u) => this.bus.publish(Channels.user(env.bizId, u), message)));
      const routed = counts.reduce((a, b) => a + b, 0);
      if (routed === 0) this.metrics.pushesDropped.inc({ reason: 'offline' });
      return { mid, routed };
    }
    const byNode = new Map<string, string[]>();
    const unknownLinks: string[] = [];
    const sessions = await Promise.all(to.links!.map((sid) => this.sessions.get(sid)));
    to.links!.forEach((sid, i) => {
      const s = sessions[i];
      if (!s || s.bizId !== env.bizId) unknownLinks.push(sid);
      else byNode.set(s.node, [...(byNode.get(s.node) ?? []), sid]);
    });
    if (unknownLinks.length) this.metrics.pushesDropped.inc({ reason: 'no_link' }, unknownLinks.length);
    await Promise.all([...byNode].map(([node, sids]) => this.bus.publish(Channels.node(node), { ...message, sids })));
    return { mid, routed: to.links!.length - unknownLinks.length, ...(unknownLinks.length ? { unknownLinks } : {}) };
  }

  /** Asks the node holding `sid` to close it. Resolves false if no node holds it. */
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

  private onBus(channel: string, message: BusMessage): void {
    if (message.k === 'kick') {
      const link = this.links.registry.get(message.sid);
      if (link) this.links.closeLink(link, CloseCode.KICKED, message.reason);
      return;
    }
    const registry = this.links.registry;
    let targets: Iterable<Link> | undefined;
    if (message.sids) targets = message.sids.map((sid) => registry.get(sid)).filter((l): l is Link => l !== undefined);
    else if (channel.startsWith('user:')) {
      const [, biz, user] = channel.split(':');
      targets = registry.ofUser(decodeURIComponent(biz), decodeURIComponent(user));
    } else if (channel.startsWith('biz:')) targets = registry.ofBiz(decodeURIComponent(channel.slice(4)));
    if (!targets) return;
    this.deliver(targets, message);
  }

  private deliver(targets: Iterable<Link>, message: Extract<BusMessage, { k: 'push' }>): void {
    const encoded = new Map<Codec, Buffer | string>();
    let delivered = 0;
    for (const link of targets) {
      let payload = encoded.get(link.codec);
      if (payload === undefined) {
        payload = link.codec.encode({ type: 'push', mid: message.mid, body: message.body });
        encoded.set(link.codec, payload);
      }
      if (link.sendEncoded(payload)) delivered++;
    }
    if (delivered > 0) {
      this.metrics.pushesDelivered.inc(delivered);
      this.metrics.pushLatency.observe((Date.now() - message.ts) / 1000);
    } else log.debug({ mid: message.mid }, 'push reached a node with no open target link');
  }
}
