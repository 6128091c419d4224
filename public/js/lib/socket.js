// The WebSocket client (contract/WEBSOCKET.md, with this server's fixes):
// - connects to ws(s)://{host}, sends `init` with a fresh access token, waits for the `init` reply;
// - reconnects with backoff min(1000·1.5^n, 10 s), then re-sends `init`, `selectProject` for the open editor and
//   `subscribeJob {jobId, lastSeq}` for the job on screen (from the view's `resume` hook: the last seq it
//   rendered), so the server replays exactly what was missed (views drop repeats by seq: see jobfeed.js);
// - application-level heartbeat: `ping` every 10 s while the page is visible; no `pong` within 4 s → reconnect;
// - `projectReady(id)`: the server has answered `selectProject` on this connection, so a `message` sent now goes to
//   that project (the server handles a connection's messages concurrently: one sent before the answer can race it).

const PING_EVERY_MS = 10_000;
const PONG_TIMEOUT_MS = 4_000;

export function backoffDelay(attempt) {
  return Math.min(1000 * 1.5 ** attempt, 10_000);
}

export class Socket {
  constructor(auth) {
    this.auth = auth;
    this.ws = null;
    this.state = 'idle'; // idle | connecting | ready | offline | stopped
    this.attempt = 0;
    this.listeners = new Map();
    this.projectId = null;
    /** The project the server has confirmed (`projectSelected`) on the current connection. */
    this.selectedOnConnection = null;
    /** Set by the editor: () => ({jobId, lastSeq}) for the job on screen that has not ended, or null. */
    this.resume = null;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.resubscribeOnSelect = false;
    this.stats = { connections: 0, reconnects: 0, dropped: 0, duplicates: 0, gaps: 0 };

    document.addEventListener('visibilitychange', () => {
      this.sendViewState();
      if (document.visibilityState === 'visible') this.heartbeat();
    });
    window.addEventListener('online', () => {
      if (this.state === 'offline') this.connectNow();
      else this.heartbeat();
    });
  }

  // ---------------------------------------------------------------- events

  /** on('stream', fn) / on('*', fn) / on('state', fn). Returns the unsubscribe function. */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type)?.delete(fn);
  }

  emit(type, message) {
    for (const fn of [...(this.listeners.get(type) ?? [])]) {
      try {
        fn(message);
      } catch (error) {
        console.error(`[socket] listener for ${type} failed`, error);
      }
    }
    if (type !== 'state') {
      for (const fn of [...(this.listeners.get('*') ?? [])]) {
        try {
          fn(message);
        } catch (error) {
          console.error('[socket] listener failed', error);
        }
      }
    }
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', { state });
  }

  get ready() {
    return this.state === 'ready';
  }

  /** Which connection this is (1 for the first; a reconnect counts up): says whether a send went out on this one. */
  get connection() {
    return this.stats.connections;
  }

  /** Connected, and `projectId` selected on this connection: a chat message sent now reaches that project. */
  projectReady(projectId) {
    return this.ready && this.selectedOnConnection === projectId;
  }

  /** Resolves true once connected and initialised, false after `timeoutMs`. */
  whenReady(timeoutMs = 8000) {
    if (this.ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const off = this.on('state', ({ state }) => {
        if (state !== 'ready') return;
        clearTimeout(timer);
        off();
        resolve(true);
      });
      const timer = setTimeout(() => {
        off();
        resolve(false);
      }, timeoutMs);
    });
  }

  // ---------------------------------------------------------------- connection

  start() {
    if (this.state === 'idle' || this.state === 'stopped') {
      this.setState('connecting');
      this.open();
    }
  }

  stop() {
    clearTimeout(this.reconnectTimer);
    this.stopHeartbeat();
    this.setState('stopped');
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      ws.close(1000, 'signed out');
    }
    this.projectId = null;
    this.selectedOnConnection = null;
  }

  open() {
    clearTimeout(this.reconnectTimer);
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = async () => {
      const token = await this.auth.accessToken();
      if (this.ws !== ws) return;
      if (!token) return this.stop();
      ws.send(JSON.stringify({ type: 'init', access_token: token, sessionId: this.tabId() }));
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.receive(message);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.closed(event.code);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  tabId() {
    let id = sessionStorage.getItem('dreamcore.tab');
    if (!id) {
      id = crypto.randomUUID?.() ?? String(Math.random()).slice(2);
      sessionStorage.setItem('dreamcore.tab', id);
    }
    return id;
  }

  /** The socket is gone (closed by the server, the network, or us): reconnect with backoff. */
  async closed(code) {
    this.ws = null;
    this.selectedOnConnection = null;
    this.stopHeartbeat();
    if (this.state === 'stopped') return;
    this.stats.dropped++;
    this.setState('offline');
    if (code === 4001) {
      // Authentication failed: the token expired or was revoked. A refresh decides whether we stay signed in.
      try {
        await this.auth.refresh();
      } catch {
        if (!this.auth.signedIn) return this.stop();
      }
    }
    const delay = backoffDelay(this.attempt++);
    this.reconnectTimer = setTimeout(() => this.connectNow(), delay);
  }

  connectNow() {
    if (this.state === 'stopped' || this.state === 'ready' || this.state === 'connecting') return;
    this.stats.reconnects++;
    this.setState('connecting');
    this.open();
  }

  /** Drops the connection as a network failure would (the debug handle and the heartbeat use this). */
  drop() {
    const ws = this.ws;
    if (!ws) return false;
    ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
    try {
      ws.close(4000, 'client drop');
    } catch {
      /* already closing */
    }
    this.closed(1006);
    return true;
  }

  // ---------------------------------------------------------------- heartbeat

  startHeartbeat() {
    this.stopHeartbeat();
    this.pingTimer = setInterval(() => this.heartbeat(), PING_EVERY_MS);
  }

  stopHeartbeat() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = this.pongTimer = null;
  }

  heartbeat() {
    if (!this.ready || document.visibilityState !== 'visible' || this.pongTimer) return;
    this.raw({ type: 'ping' });
    this.pongTimer = setTimeout(() => {
      this.pongTimer = null;
      if (this.ready) this.drop();
    }, PONG_TIMEOUT_MS);
  }

  // ---------------------------------------------------------------- sending

  raw(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Sends when connected and initialised; false otherwise (the caller tells the user). */
  send(message) {
    if (!this.ready) return false;
    return this.raw(message);
  }

  sendViewState() {
    if (this.ready) this.raw({ type: 'viewState', projectId: this.projectId ?? undefined, visible: document.visibilityState === 'visible' });
  }

  /** The editor's project: selected now and again after every reconnect. */
  selectProject(projectId) {
    if (this.selectedOnConnection !== projectId) this.selectedOnConnection = null;
    this.projectId = projectId;
    this.resubscribeOnSelect = false;
    this.send({ type: 'selectProject', projectId });
  }

  deselectProject() {
    this.projectId = null;
    this.selectedOnConnection = null;
    this.resume = null;
    this.send({ type: 'deselectProject' });
  }

  // ---------------------------------------------------------------- receiving

  receive(message) {
    switch (message.type) {
      case 'init':
        this.attempt = 0;
        this.stats.connections++;
        this.selectedOnConnection = null;
        this.setState('ready');
        this.startHeartbeat();
        this.sendViewState();
        this.emit('init', message);
        if (this.projectId) {
          this.resubscribeOnSelect = true;
          this.raw({ type: 'selectProject', projectId: this.projectId });
        }
        return;
      case 'pong':
        clearTimeout(this.pongTimer);
        this.pongTimer = null;
        return;
      case 'error':
        // A refused init is followed by close 4001 (closed() refreshes the session). Later, an "expired" error
        // means the socket's token is stale: refresh and reconnect with the new one.
        if (this.ready && /expired/i.test(String(message.message ?? '')))
          this.auth.refresh().then(
            () => this.drop(),
            () => undefined,
          );
        break;
      case 'projectSelected':
        if (message.projectId === this.projectId) this.selectedOnConnection = message.projectId;
        if (message.projectId === this.projectId && this.resubscribeOnSelect) {
          // After a reconnect: the job on screen continues from the last event rendered.
          const cursor = this.resume?.();
          if (cursor?.jobId) this.raw({ type: 'subscribeJob', jobId: cursor.jobId, lastSeq: cursor.lastSeq ?? 0 });
          this.resubscribeOnSelect = false;
        }
        break;
      default:
        break;
    }
    this.emit(message.type, message);
  }
}
