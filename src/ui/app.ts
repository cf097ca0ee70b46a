import { render } from 'preact';
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { html } from 'htm/preact';
import { Api, apiBase, ApiError, Overview, Result, Session, Unauthorized } from './api';
import './app.css';

const TOKEN_KEY = 'gateway.adminToken';

const time = (ms: number | null | undefined) => (ms ? new Date(ms).toLocaleTimeString() : '—');
function ago(ms: number | null | undefined, now: number): string {
  if (!ms) return '—';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago` : `${Math.floor(s / 3600)} h ago`;
}

function ErrorBox({ error }: { error?: ApiError | null }) {
  if (!error) return null;
  return html`<div class="error" role="alert">
    <strong>${error.status ? `${error.status} ${error.error}` : error.error}</strong>: ${error.message}
    ${
      error.problems?.length
        ? html`<ul>
            ${error.problems.map((p) => html`<li><code>${p.field}</code> ${p.message}</li>`)}
          </ul>`
        : null
    }
  </div>`;
}

// ---- sign in ----

function SignIn({ onToken, message }: { onToken: (t: string) => void; message?: string }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(message ?? '');
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!token.trim()) return setError('enter the admin token (GATEWAY_ADMIN_TOKEN)');
    setBusy(true);
    setError('');
    try {
      const r = await new Api(apiBase(), token.trim()).overview();
      if (!r.ok) setError(`the API answered: ${r.error.message}`);
      else onToken(token.trim());
    } catch (err) {
      setError(err instanceof Unauthorized ? 'Wrong admin token: the API refused it (401).' : String(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <form onSubmit=${submit} class="card">
      <h1>Gateway admin</h1>
      <label for="token">Admin token</label>
      <input
        id="token"
        name="token"
        type="password"
        autocomplete="current-password"
        value=${token}
        onInput=${(e: any) => setToken(e.currentTarget.value)}
        autofocus
      />
      <button type="submit" disabled=${busy}>${busy ? 'Checking…' : 'Sign in'}</button>
      ${error ? html`<p class="error" role="alert" data-testid="signin-error">${error}</p>` : null}
      <p class="hint">The token stays in this tab (sessionStorage) and goes to the API as a bearer header.</p>
    </form>
  </main>`;
}

// ---- panels ----

function Nodes({ o, now }: { o: Overview; now: number }) {
  return html`<section class="card" data-testid="nodes">
    <h2>Nodes <small>${o.nodes.length} · leader ${o.leader ?? 'none'}</small></h2>
    <table>
      <thead>
        <tr>
          <th>node</th>
          <th>health</th>
          <th>state</th>
          <th>links</th>
          <th>users</th>
          <th>capacity</th>
          <th>last check</th>
        </tr>
      </thead>
      <tbody>
        ${o.nodes.map(
          (n) =>
            html`<tr data-node=${n.id} data-healthy=${String(n.healthy)} class=${n.healthy ? '' : 'down'}>
              <td>
                <span class="mono">${n.id}</span>
                ${n.leader ? html` <span class="badge leader">leader</span>` : null}
                ${n.id === o.self ? html` <span class="badge">this ${o.source}</span>` : null}
                <div class="sub">${n.wsUrl}</div>
              </td>
              <td>
                <span class=${`badge ${n.healthy ? 'ok' : 'bad'}`} data-testid="health">${n.healthy ? 'healthy' : 'unhealthy'}</span
                >${n.error ? html`<div class="sub">${n.error}</div>` : null}
              </td>
              <td><span class=${`badge state-${n.state}`}>${n.state}</span></td>
              <td class="num">${n.online}</td>
              <td class="num">${n.users}</td>
              <td class="num">${n.capacity}</td>
              <td title=${time(n.lastCheck)}>${ago(n.lastCheck, now)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

type SearchMode = 'name' | 'user' | 'sid';

function Clients({ api, tick, onAuth }: { api: Api; tick: number; onAuth: () => void }) {
  const [mode, setMode] = useState<SearchMode>('name');
  const [text, setText] = useState('');
  const [biz, setBiz] = useState('');
  const [applied, setApplied] = useState<{ mode: SearchMode; text: string; biz: string }>({ mode: 'name', text: '', biz: '' });
  const [cursors, setCursors] = useState<string[]>([]); // cursors of the pages before this one; last = this page's
  const [rows, setRows] = useState<Session[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [kicking, setKicking] = useState<string | null>(null);
  const [reason, setReason] = useState('');
  const [notice, setNotice] = useState('');

  const guard = async <T>(work: Promise<Result<T>>): Promise<Result<T> | undefined> => {
    try {
      return await work;
    } catch (err) {
      if (err instanceof Unauthorized) onAuth();
      return undefined;
    }
  };

  const load = useCallback(async () => {
    const { mode, text, biz } = applied;
    const cursor = cursors[cursors.length - 1];
    let r: Result<{ items: Session[]; next?: string | null }> | undefined;
    if (text && mode === 'sid') r = await guard(api.query({ client_id: text }));
    else if (text && mode === 'name' && !biz && !cursor) r = await guard(api.query({ name: text }));
    else {
      const q: Record<string, string> = { limit: '50' };
      if (biz) q.biz = biz;
      if (text) q[mode === 'user' ? 'user' : 'name'] = text;
      if (cursor) q.cursor = cursor;
      r = await guard(api.clients(q));
    }
    if (!r) return;
    if (!r.ok) return setError(r.error);
    setError(null);
    setRows(r.value.items);
    setNext(r.value.next ?? null);
  }, [api, applied, cursors]);

  // the page follows the live stream: the current page is read again with each overview
  useEffect(() => void load(), [load, tick]);

  const search = (e: Event) => {
    e.preventDefault();
    setCursors([]);
    setApplied({ mode, text: text.trim(), biz: biz.trim() });
  };
  const kick = async (e: Event, sid: string) => {
    e.preventDefault();
    const r = await guard(api.kick(sid, reason.trim() || 'kicked by operator'));
    if (!r) return;
    if (!r.ok) return setError(r.error);
    setNotice(`kicked ${sid} (${r.value.reason})`);
    setKicking(null);
    setReason('');
    void load();
  };

  return html`<section class="card wide" data-testid="clients">
    <h2>Clients</h2>
    <form class="row" onSubmit=${search} data-testid="client-search">
      <select name="mode" value=${mode} onChange=${(e: any) => setMode(e.currentTarget.value)} aria-label="search by">
        <option value="name">name</option>
        <option value="user">user id</option>
        <option value="sid">client id (sid)</option>
      </select>
      <input name="q" placeholder="search…" value=${text} onInput=${(e: any) => setText(e.currentTarget.value)} />
      <input name="biz" placeholder="biz (optional)" value=${biz} onInput=${(e: any) => setBiz(e.currentTarget.value)} />
      <button type="submit">Search</button>
      ${
        applied.text || applied.biz
          ? html`<button
              type="button"
              class="ghost"
              onClick=${() => {
                setText('');
                setBiz('');
                setCursors([]);
                setApplied({ mode, text: '', biz: '' });
              }}
            >
              Clear
            </button>`
          : null
      }
    </form>
    <${ErrorBox} error=${error} />
    ${notice ? html`<p class="notice" data-testid="notice">${notice}</p>` : null}
    <table>
      <thead>
        <tr>
          <th>name</th>
          <th>user</th>
          <th>biz</th>
          <th>device</th>
          <th>node</th>
          <th>since</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${
          rows.length === 0
            ? html`<tr>
                <td colspan="7" class="empty">no clients</td>
              </tr>`
            : null
        }
        ${rows.map(
          (s) =>
            html`<tr data-sid=${s.sid} data-name=${s.name ?? ''}>
              <td>
                ${s.name ?? html`<span class="sub">—</span>`}
                <div class="sub mono">${s.sid}</div>
              </td>
              <td class="mono">${s.userId}</td>
              <td>${s.bizId}</td>
              <td>${s.deviceId ?? '—'}</td>
              <td class="mono">${s.node}</td>
              <td title=${new Date(s.connectedAt).toLocaleString()}>${time(s.connectedAt)}</td>
              <td>
                ${
                  kicking === s.sid
                    ? html`<form class="row" onSubmit=${(e: Event) => kick(e, s.sid)} data-testid="kick-form">
                        <input
                          name="reason"
                          placeholder="reason"
                          value=${reason}
                          onInput=${(e: any) => setReason(e.currentTarget.value)}
                          autofocus
                          maxlength="120"
                        />
                        <button type="submit" class="danger">Kick</button>
                        <button type="button" class="ghost" onClick=${() => setKicking(null)}>Cancel</button>
                      </form>`
                    : html`<button type="button" class="danger ghost" onClick=${() => (setKicking(s.sid), setReason(''))}>Kick…</button>`
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    <div class="row pager">
      <button type="button" class="ghost" disabled=${cursors.length === 0} onClick=${() => setCursors(cursors.slice(0, -1))}>‹ Previous</button>
      <span class="sub">page ${cursors.length + 1}</span>
      <button type="button" class="ghost" disabled=${!next} onClick=${() => next && setCursors([...cursors, next])}>Next ›</button>
    </div>
  </section>`;
}

function Push({ api, onAuth }: { api: Api; onAuth: () => void }) {
  const [bizId, setBiz] = useState('');
  const [kind, setKind] = useState<'users' | 'room' | 'all'>('users');
  const [target, setTarget] = useState('');
  const [body, setBody] = useState('{"text": "hello"}');
  const [result, setResult] = useState<string>('');
  const [error, setError] = useState<ApiError | null>(null);
  const send = async (e: Event) => {
    e.preventDefault();
    setResult('');
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      return setError({ status: 0, error: 'bad_json', message: `the body is not JSON: ${(err as Error).message}` });
    }
    const to =
      kind === 'all'
        ? { all: true }
        : kind === 'room'
          ? { room: target.trim() }
          : {
              users: target
                .split(',')
                .map((u) => u.trim())
                .filter(Boolean),
            };
    try {
      const r = await api.push({ bizId: bizId.trim(), to, body: parsed });
      if (!r.ok) return setError(r.error);
      setError(null);
      setResult(JSON.stringify(r.value));
    } catch (err) {
      if (err instanceof Unauthorized) onAuth();
    }
  };
  return html`<section class="card" data-testid="push">
    <h2>Push</h2>
    <form onSubmit=${send} class="stack">
      <div class="row">
        <input name="bizId" placeholder="bizId" value=${bizId} onInput=${(e: any) => setBiz(e.currentTarget.value)} />
        <select name="kind" value=${kind} onChange=${(e: any) => setKind(e.currentTarget.value)} aria-label="to">
          <option value="users">to user(s)</option>
          <option value="room">to a room</option>
          <option value="all">to everyone</option>
        </select>
        ${kind === 'all' ? null : html`<input name="target" placeholder=${kind === 'room' ? 'room' : 'user ids, comma separated'} value=${target} onInput=${(e: any) => setTarget(e.currentTarget.value)} />`}
      </div>
      <textarea name="body" rows="3" spellcheck="false" value=${body} onInput=${(e: any) => setBody(e.currentTarget.value)} aria-label="body (JSON)"></textarea>
      <div class="row"><button type="submit">Send push</button></div>
    </form>
    <${ErrorBox} error=${error} />
    ${result ? html`<p class="notice" data-testid="push-result">accepted: <code>${result}</code></p>` : null}
  </section>`;
}

function Backends({ o }: { o: Overview }) {
  return html`<section class="card" data-testid="backends">
    <h2>Backends <small>as ${o.self} sees them</small></h2>
    ${o.backends.length === 0 ? html`<p class="empty">no backend registered (uplinks use the echo or fail)</p>` : null}
    ${o.backends.map(
      (b) =>
        html`<div class="biz">
          <h3>${b.bizId}</h3>
          <table>
            <tbody>
              ${b.instances.map(
                (i) =>
                  html`<tr>
                    <td class="mono">${i.instance}</td>
                    <td class="mono">${i.addr}</td>
                    <td><span class=${`badge circuit-${i.circuit}`}>${i.circuit}</span></td>
                    <td class="num" title="requests in flight">${i.outstanding}</td>
                  </tr>`,
              )}
            </tbody>
          </table>
        </div>`,
    )}
  </section>`;
}

function Operator({ o, now }: { o: Overview; now: number }) {
  return html`<section class="card" data-testid="operator">
    <h2>Alerts received</h2>
    ${
      o.alerts.length === 0
        ? html`<p class="empty">none</p>`
        : html`<table>
            <thead>
              <tr>
                <th>received</th>
                <th>node</th>
                <th>alert</th>
                <th>status</th>
                <th>value / threshold</th>
                <th>via</th>
              </tr>
            </thead>
            <tbody>
              ${o.alerts.map(
                (a) =>
                  html`<tr>
                    <td title=${new Date(a.receivedAt).toLocaleString()}>${ago(a.receivedAt, now)}</td>
                    <td class="mono">${a.nodeId}</td>
                    <td>${a.alertname}</td>
                    <td><span class=${`badge ${a.status === 'firing' ? 'bad' : 'ok'}`}>${a.status}</span></td>
                    <td class="num">${a.value ?? '—'} / ${a.threshold ?? '—'}</td>
                    <td>${a.source} → ${a.receivedBy}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
    <h2>Directives</h2>
    ${
      o.directives.length === 0
        ? html`<p class="empty">none</p>`
        : html`<table>
            <thead>
              <tr>
                <th>node</th>
                <th>action</th>
                <th>reason</th>
                <th>target</th>
                <th>issued</th>
                <th>by</th>
              </tr>
            </thead>
            <tbody>
              ${o.directives.map(
                (d) =>
                  html`<tr>
                    <td class="mono">${d.nodeId}</td>
                    <td><span class=${`badge action-${d.action}`}>${d.action}</span></td>
                    <td>${d.reason}</td>
                    <td>${d.targetLinks ?? '—'}${d.toward?.length ? ` → ${d.toward.join(', ')}` : ''}</td>
                    <td>${ago(d.issuedAt, now)}</td>
                    <td class="mono">${d.by}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
    <h2>Moves made</h2>
    ${
      o.moves.length === 0
        ? html`<p class="empty">none</p>`
        : html`<table>
            <thead>
              <tr>
                <th>node</th>
                <th>reason</th>
                <th>links</th>
                <th>last</th>
              </tr>
            </thead>
            <tbody>
              ${o.moves.map(
                (m) =>
                  html`<tr data-move>
                    <td class="mono">${m.node}</td>
                    <td>${m.reason}</td>
                    <td class="num">${m.count}</td>
                    <td>${ago(m.at, now)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
  </section>`;
}

// ---- the app ----

function Dashboard({ api, onSignOut }: { api: Api; onSignOut: (message?: string) => void }) {
  const [o, setO] = useState<Overview | null>(null);
  const [state, setState] = useState<{ s: string; why?: string }>({ s: 'connecting' });
  const [tick, setTick] = useState(0);
  const [now, setNow] = useState(Date.now());
  const onAuth = useCallback(() => onSignOut('The admin token was refused (401): sign in again.'), [onSignOut]);

  useEffect(() => {
    const abort = new AbortController();
    api
      .live(
        (next) => {
          setO(next);
          setTick((t) => t + 1);
        },
        (s, why) => setState({ s, why }),
        abort.signal,
      )
      .catch((err) => (err instanceof Unauthorized ? onAuth() : setState({ s: 'retrying', why: String(err) })));
    const clock = setInterval(() => setNow(Date.now()), 1000);
    return () => {
      abort.abort();
      clearInterval(clock);
    };
  }, [api]);

  return html`<div class="app">
    <header>
      <h1>Gateway admin</h1>
      ${o ? html`<span class="sub">via ${o.source} <span class="mono">${o.self}</span>${o.strategy ? ` · ${o.strategy}` : ''}</span>` : null}
      <span class=${`badge live-${state.s}`} data-testid="live" title=${state.why ?? ''}>${state.s === 'live' ? `live · ${time(o?.at)}` : state.s}</span>
      <button type="button" class="ghost" onClick=${() => onSignOut()}>Sign out</button>
    </header>
    ${o?.warnings?.length ? html`<div class="error" role="alert">${o.warnings.map((w) => html`<div>${w}</div>`)}</div>` : null}
    ${
      o
        ? html`<div class="grid">
            <${Nodes} o=${o} now=${now} />
            <${Push} api=${api} onAuth=${onAuth} />
            <${Clients} api=${api} tick=${tick} onAuth=${onAuth} />
            <${Backends} o=${o} />
            <${Operator} o=${o} now=${now} />
          </div>`
        : html`<p class="boot">Waiting for the first overview…</p>`
    }
  </div>`;
}

function App() {
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(TOKEN_KEY));
  const [message, setMessage] = useState<string | undefined>();
  const signIn = (t: string) => {
    sessionStorage.setItem(TOKEN_KEY, t);
    setMessage(undefined);
    setToken(t);
  };
  const signOut = useCallback((m?: string) => {
    sessionStorage.removeItem(TOKEN_KEY);
    setMessage(m);
    setToken(null);
  }, []);
  const api = useMemo(() => (token ? new Api(apiBase(), token) : null), [token]);
  if (!token || !api) return html`<${SignIn} onToken=${signIn} message=${message} />`;
  return html`<${Dashboard} api=${api} onSignOut=${signOut} />`;
}

const root = document.getElementById('app')!;
// the static "Loading…" placeholder goes: render() adds to what the container holds
root.textContent = '';
render(html`<${App} />`, root);
