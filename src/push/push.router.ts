import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Channels, ClusterBus, PushMessage } from '../bus/cluster-bus';
import { GatewayConfig } from '../config/gateway.config';
import { LocalDelivery } from '../delivery/local-delivery.service';
import { PushLog } from '../mailbox/push-log';
import { GatewayMetrics } from '../metrics/gateway.metrics';
import { RoomsService } from '../rooms/rooms.service';
import { SessionStore } from '../session/session.store';
import { Envelope } from './envelope';

export interface PushResult {
  mid: string;
  /** user pushes: users the push was stored for or handed to; links: links addressed; room/all: nodes reached */
  routed: number;
  /** the mid was already handled within the dedup window: nothing was sent */
  duplicate?: boolean;
  /** link ids named in to.links that no node holds */
  unknownLinks?: string[];
}

/**
 * The send side of pushes (centrifuge's Node): decides where a push goes. Dedup by mid; a user
 * push is stored and announced in one step (PushLog); room, biz-wide and link pushes are
 * published on the channel of their target (the nodes holding a target listen there). Local
 * links first: this node's own links get the push from LocalDelivery without a round trip, and
 * the bus never echoes to its publisher.
 */
@Injectable()
export class PushRouter {
  constructor(
    private readonly config: GatewayConfig,
    private readonly log: PushLog,
    private readonly bus: ClusterBus,
    private readonly sessions: SessionStore,
    private readonly delivery: LocalDelivery,
    private readonly rooms: RoomsService,
    private readonly metrics: GatewayMetrics,
  ) {}

  /**
   * Handles one validated envelope. Resolves once every target has been stored (mailbox) and
   * handed to the bus, so a caller may then commit it; throws if Redis is unavailable.
   */
  async push(env: Envelope, source: string, fallbackMid?: string): Promise<PushResult> {
    const mid = env.mid ?? fallbackMid ?? randomUUID();
    const { to, bizId } = env;
    const op = env.op ?? 'push';
    if (op !== 'push') {
      for (const user of to.users!) await (op === 'join' ? this.rooms.join(bizId, env.room!, user) : this.rooms.leave(bizId, env.room!, user));
      return { mid, routed: to.users!.length };
    }
    this.metrics.pushesAccepted.inc({ source });
    const ts = Date.now();
    const base: PushMessage = { k: 'push', mid, body: env.body, ts };
    if (env.ttlSec) base.exp = ts + env.ttlSec * 1000;
    // serialised once: stored in the mailbox, announced on the bus and framed from this string
    const bodyJson = JSON.stringify(env.body);

    if (to.users) {
      const persist = env.persist !== false;
      const one = (user: string) => (persist ? this.toUser(bizId, user, base, bodyJson) : this.toUserLive(bizId, user, base, bodyJson));
      const results = to.users.length === 1 ? [await one(to.users[0])] : await Promise.all(to.users.map(one));
      let dups = 0;
      for (const dup of results) if (dup) dups++;
      if (dups) this.metrics.pushesDropped.inc({ reason: 'duplicate' }, dups);
      return dups === results.length ? { mid, routed: 0, duplicate: true } : { mid, routed: results.length - dups };
    }

    // links, room, all: no mailbox, but redeliveries are still dropped by mid
    const scope = to.links ? '#links' : to.room !== undefined ? `#room:${to.room}` : '#all';
    if (!(await this.log.claim(bizId, scope, mid))) {
      this.metrics.pushesDropped.inc({ reason: 'duplicate' });
      return { mid, routed: 0, duplicate: true };
    }
    if (to.all) {
      const local = this.delivery.toBiz(bizId, base, bodyJson);
      return { mid, routed: await this.published(local, Channels.biz(bizId), base) };
    }
    if (to.room !== undefined) {
      const message = { ...base, room: to.room };
      const local = this.delivery.toRoom(bizId, to.room, message, bodyJson);
      return { mid, routed: await this.published(local, Channels.room(bizId, to.room), message) };
    }
    return this.toLinks(bizId, to.links!, base, bodyJson);
  }

  /**
   * One user's stored copy: the next seq, stored and announced to the other nodes in one step,
   * then written to the user's links here. Resolves true for a duplicate mid.
   */
  private async toUser(bizId: string, user: string, base: PushMessage, bodyJson: string): Promise<boolean> {
    // links of the user here and our subscription live: if no other node listens, the push log
    // need not announce the push (it would only come back to us)
    const listening = this.delivery.listening(bizId, user);
    const r = await this.log.append(bizId, user, { mid: base.mid, body: base.body, bodyJson, ts: base.ts, exp: base.exp }, { listening });
    if (r.duplicate && r.seq === 0) return true;
    // a duplicate: the first copy may have been stored by a node that died before announcing
    // it, so it goes out again under the stored seq (the log re-announced it); links that
    // already have it drop it
    const message: PushMessage = r.duplicate ? { ...base, seq: r.seq, epoch: r.epoch, redelivery: true } : { ...base, seq: r.seq, epoch: r.epoch };
    if (!r.duplicate) this.metrics.pushesStored.inc();
    this.delivery.toUser(bizId, user, message, bodyJson);
    return r.duplicate;
  }

  /** `persist: false`: deduplicated by mid, then delivered live only (no seq, nothing stored). */
  private async toUserLive(bizId: string, user: string, base: PushMessage, bodyJson: string): Promise<boolean> {
    if (!(await this.log.claim(bizId, user, base.mid))) return true;
    this.delivery.toUser(bizId, user, base, bodyJson);
    await this.bus.publish(Channels.user(bizId, user), base);
    return false;
  }

  private async toLinks(bizId: string, sids: string[], base: PushMessage, bodyJson: string): Promise<PushResult> {
    const byNode = new Map<string, string[]>();
    const unknownLinks: string[] = [];
    const sessions = await Promise.all(sids.map((sid) => this.sessions.get(sid)));
    sids.forEach((sid, i) => {
      const s = sessions[i];
      if (!s || s.bizId !== bizId) unknownLinks.push(sid);
      else byNode.set(s.node, [...(byNode.get(s.node) ?? []), sid]);
    });
    if (unknownLinks.length) this.metrics.pushesDropped.inc({ reason: 'no_link' }, unknownLinks.length);
    await Promise.all(
      [...byNode].map(async ([node, nodeSids]) => {
        if (node === this.config.node.id) this.delivery.toLinks(nodeSids, { ...base, sids: nodeSids }, bodyJson);
        else await this.bus.publish(Channels.node(node), { ...base, sids: nodeSids });
      }),
    );
    return { mid: base.mid, routed: sids.length - unknownLinks.length, ...(unknownLinks.length ? { unknownLinks } : {}) };
  }

  /** after local delivery: the other nodes through the bus; resolves with the nodes that had targets or listened */
  private async published(local: number, channel: string, message: PushMessage): Promise<number> {
    return Math.max(local > 0 ? 1 : 0, await this.bus.publish(channel, message));
  }
}
