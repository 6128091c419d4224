// The WebSocket client (docs/protocol.md, "The WebSocket"):
// - connects to ws(s)://{host}, sends `init` with a fresh access token, waits for the `init` reply;
// - reconnects with backoff min(1000·1.5^n, 10 s), then re-sends `init`, `selectProject` for the open editor and
//   `subscribeJob {jobId, lastSeq}` for the job on screen (from the view's `resume` hook: the last seq it
//   rendered), so the server replays exactly what was missed (views drop repeats by seq: see jobfeed.js);
// - application-level heartbeat: `ping` every 10 s while the page is visible; no `pong` within 4 s → reconnect;
// - `projectReady(id)`: the server has answered `selectProject` on this connection, so a `message` sent now goes to
//   that project (the server handles a connection's messages concurrently: one sent before the answer can race it).

import { newUuid } from './ids.js';

const PING_EVERY_MS = 10_000;
const PONG_TIMEOUT_MS = 4_000;

/**
 * A message from the server: `type` and the fields its type documents (docs/protocol.md). Read loosely on purpose:
 * each view takes the fields it shows and tolerates the ones it does not know.
 * @typedef {{ type: string, [field: string]: any }} ServerMessage
 */

/** @typedef {'idle' | 'connecting' | 'ready' | 'offline' | 'stopped'} SocketState */

/** @param {number} attempt reconnects so far */
export function backoffDelay(attempt) {
  return Math.min(1000 * 1.5 ** attempt, 10_000);
}

export class Socket {
  /** @param {import('./auth.js').Auth} auth */
  constructor(auth) {
    this.auth = auth;
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {SocketState} */
    this.state = 'idle';
    this.attempt = 0;
    /** @type {Map<string, Set<(message: any) => void>>} */
    this.listeners = new Map();
    /** @type {string | null} */
    this.projectId = null;
    /**
     * The project the server has confirmed (`projectSelected`) on the current connection.
     * @type {string | null}
     */
    this.selectedOnConnection = null;
    /**
     * Set by the editor: the job on screen that has not ended and the last seq rendered, or null.
     * @type {(() => { jobId: string, lastSeq: number } | null) | null}
     */
    this.resume = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.reconnectTimer = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.pingTimer = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.pongTimer = undefined;
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

  /**
   * on('stream', fn) / on('*', fn) / on('state', fn). Returns the unsubscribe function.
   * @param {string} type a server message type, '*' for all of them, or 'state'
   * @param {(message: ServerMessage) => void} fn
   * @returns {() => void}
   */
  on(type, fn) {
    const set = this.listeners.get(type) ?? new Set();
    this.listeners.set(type, set);
    set.add(fn);
    return () => void set.delete(fn);
  }

  /**
   * @param {string} type
   * @param {ServerMessage | { state: SocketState }} message
   */
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

  /** @param {SocketState} state */
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

  /**
   * Connected, and `projectId` selected on this connection: a chat message sent now reaches that project.
   * @param {string} projectId
   */
  projectReady(projectId) {
    return this.ready && this.selectedOnConnection === projectId;
  }

  /**
   * Resolves true once connected and initialised, false after `timeoutMs`.
   * @returns {Promise<boolean>}
   */
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
      id = newUuid();
      sessionStorage.setItem('dreamcore.tab', id);
    }
    return id;
  }

  /**
   * The socket is gone (closed by the server, the network, or us): reconnect with backoff.
   * @param {number} code the close code
   */
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
    this.pingTimer = this.pongTimer = undefined;
  }

  heartbeat() {
    if (!this.ready || document.visibilityState !== 'visible' || this.pongTimer) return;
    this.raw({ type: 'ping' });
    this.pongTimer = setTimeout(() => {
      this.pongTimer = undefined;
      if (this.ready) this.drop();
    }, PONG_TIMEOUT_MS);
  }

  // ---------------------------------------------------------------- sending

  /**
   * Sends whatever the connection's state (ping, init's follow-ups); false when there is no open socket.
   * @param {{ type: string, [field: string]: unknown }} message
   */
  raw(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * Sends when connected and initialised; false otherwise (the caller tells the user).
   * @param {{ type: string, [field: string]: unknown }} message
   */
  send(message) {
    if (!this.ready) return false;
    return this.raw(message);
  }

  sendViewState() {
    if (this.ready) this.raw({ type: 'viewState', projectId: this.projectId ?? undefined, visible: document.visibilityState === 'visible' });
  }

  /**
   * The editor's project: selected now and again after every reconnect.
   * @param {string} projectId
   */
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

  /** @param {ServerMessage} message */
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
        this.pongTimer = undefined;
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
