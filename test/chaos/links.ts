import WebSocket from 'ws';
import { hsToken } from '../fixtures/tokens';

/** One push as a link saw it. */
export interface Seen {
  mid: string;
  epoch: string;
  seq: number;
  at: number;
  sid: string;
}

export interface Cursor {
  /** null: no push seen yet (a fresh user: the stream starts at seq 1); '': a resync named no epoch */
  epoch: string | null;
  seq: number;
}

export interface ResyncSeen {
  reason: string;
  epoch: string;
  seq: number;
  prev: Cursor;
  at: number;
  sid: string;
}

export interface Anomaly {
  kind: 'gap' | 'duplicate';
  mid: string;
  got: { epoch: string; seq: number };
  cursor: Cursor;
  sid: string;
  node: string;
  at: number;
}

/**
 * A client as an app would write it: one logical link of a user that, whenever its socket goes
 * (closed by us, or its node died), reconnects with `?resume=<epoch>:<seq>` of the last push it
 * processed, and drops a push whose (epoch, seq) is not newer than its cursor. Every frame it
 * gets is checked against "What an open link promises" (docs/protocol.md).
 */
export class ChaosLink {
  ws?: WebSocket;
  sid?: string;
  node?: string;
  open = false;
  private stopped = false;
  private connecting?: Promise<void>;
  cursor: Cursor = { epoch: null, seq: 0 };
  readonly seen = new Map<string, Seen>();
  readonly resyncs: ResyncSeen[] = [];
  readonly anomalies: Anomaly[] = [];
  /** pushes at or under the cursor: replays the client drops by seq (not errors) */
  replaysDropped = 0;
  connects = 0;
  refusals: Record<string, number> = {};
  readonly closes: Record<string, number> = {};

  constructor(
    readonly user: string,
    readonly biz: string,
    readonly label: string,
    private readonly pickNode: (preferred?: string) => { wsUrl: string; nodeId: string } | undefined,
    readonly onPush: (s: Seen, user: string) => void,
  ) {}

  /** Opens (or reopens with resume) a socket; retries until connected or stopped. */
  connect(preferred?: string): Promise<void> {
    if (this.connecting) return this.connecting;
    this.connecting = (async () => {
      let delay = 100;
      while (!this.stopped && !this.open) {
        const target = this.pickNode(preferred);
        if (target) {
          try {
            await this.once(target.wsUrl, target.nodeId);
            break;
          } catch (err) {
            const key = (err as Error).message.slice(0, 40);
            this.refusals[key] = (this.refusals[key] ?? 0) + 1;
          }
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 800);
        preferred = undefined;
      }
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private resumeParam(): string | undefined {
    if (this.cursor.epoch === null) return this.connects === 0 ? undefined : '';
    if (this.cursor.epoch === '') return '';
    return `${this.cursor.epoch}:${this.cursor.seq}`;
  }

  private once(wsUrl: string, nodeId: string): Promise<void> {
    const u = new URL(wsUrl);
    const resume = this.resumeParam();
    if (resume !== undefined) u.searchParams.set('resume', resume);
    const ws = new WebSocket(u.toString(), {
      headers: { Authorization: `Bearer ${hsToken({ sub: this.user, biz: this.biz, did: this.label, expiresInSec: 3600 })}` },
      handshakeTimeout: 3000,
      perMessageDeflate: false,
    });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (why: string) => {
        if (settled) return;
        settled = true;
        ws.terminate();
        reject(new Error(why));
      };
      const timer = setTimeout(() => fail('no connected frame within 5 s'), 5000);
      ws.once('unexpected-response', (_req, res) => fail(`HTTP ${res.statusCode}`));
      ws.on('error', (err) => fail(`error ${err.message}`));
      ws.on('message', (data: Buffer) => {
        let f: any;
        try {
          f = JSON.parse(data.toString('utf8'));
        } catch {
          return;
        }
        if (f.type === 'connected') {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.ws = ws;
          this.sid = f.sid;
          this.node = nodeId;
          this.open = true;
          this.connects++;
          resolve();
          return;
        }
        if (f.type === 'push') this.handlePush(f);
        else if (f.type === 'resync') this.handleResync(f);
      });
      ws.once('close', (code) => {
        clearTimeout(timer);
        if (!settled) return fail(`closed ${code} before connected`);
        if (this.ws !== ws) return;
        this.open = false;
        this.ws = undefined;
        this.closes[code] = (this.closes[code] ?? 0) + 1;
        // an app reconnects whatever the reason (a node killed, a close we made, a drain)
        if (!this.stopped) setTimeout(() => void this.connect(), 50 + Math.random() * 200);
      });
    });
  }

  private handlePush(f: any) {
    const at = Date.now();
    const { mid, epoch, seq } = f as { mid: string; epoch: string; seq: number };
    const c = this.cursor;
    const sid = this.sid!;
    if (typeof seq !== 'number' || typeof epoch !== 'string') {
      this.anomalies.push({ kind: 'gap', mid, got: { epoch, seq }, cursor: { ...c }, sid, node: this.node!, at });
      return;
    }
    if (c.epoch !== null && c.epoch !== '' && epoch === c.epoch && seq <= c.seq) {
      this.replaysDropped++;
      return;
    }
    if (this.seen.has(mid)) this.anomalies.push({ kind: 'duplicate', mid, got: { epoch, seq }, cursor: { ...c }, sid, node: this.node!, at });
    else {
      const inOrder = c.epoch === null ? seq === 1 : c.epoch === '' || epoch === c.epoch ? seq === c.seq + 1 : false;
      if (!inOrder) this.anomalies.push({ kind: 'gap', mid, got: { epoch, seq }, cursor: { ...c }, sid, node: this.node!, at });
      const s = { mid, epoch, seq, at, sid };
      this.seen.set(mid, s);
      this.onPush(s, this.user);
    }
    this.cursor = { epoch, seq };
  }

  private handleResync(f: any) {
    this.resyncs.push({ reason: f.reason, epoch: f.epoch, seq: f.seq, prev: { ...this.cursor }, at: Date.now(), sid: this.sid! });
    this.cursor = { epoch: f.epoch ?? '', seq: f.seq ?? 0 };
  }

  /** Closes the socket as an app would (a close handshake, or the network gone); the link reconnects. */
  drop(hard: boolean) {
    if (!this.ws || !this.open) return;
    if (hard) this.ws.terminate();
    else this.ws.close(1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const ws = this.ws;
    if (!ws) return;
    const gone = new Promise<void>((r) => ws.once('close', () => r()));
    ws.close(1000);
    await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
    ws.terminate();
    this.open = false;
  }
}
