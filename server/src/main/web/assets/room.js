// The room connection the watch page and the overlay share: one WebSocket to /ws (docs/protocol.md,
// subprotocol ovation.v1), auth with the viewer token as the first message, join + a short backlog,
// reconnect with backoff and resume from the last event id seen. Plain module, no dependencies.

const SUBPROTOCOL = 'ovation.v1';
const REQUEST_TIMEOUT_MS = 20000;   // the server answers every request; chat.gift-timeout-millis is 15 s
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const BACKLOG_EVENTS = 40;          // events replayed at the first join: recent chat and the leaderboard

/** A random id for idempotency keys; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The viewer token of this page: taken from the fragment (#token=...) when present, then kept in
 * sessionStorage (one tab) and removed from the address bar so it is not shared by copy-paste.
 */
export function takeTokenFromFragment(storageKey = 'ovation.token') {
  const params = new URLSearchParams(location.hash.slice(1));
  const fromHash = params.get('token');
  if (fromHash) {
    try { sessionStorage.setItem(storageKey, fromHash); } catch { /* private mode: keep it in memory */ }
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
    return fromHash;
  }
  try { return sessionStorage.getItem(storageKey); } catch { return null; }
}

/** A protocol error answer, or a local failure (code 'disconnected', 'timeout'). */
export class RoomError extends Error {
  constructor(answer) {
    super(answer.message || answer.code);
    this.code = answer.code;
    this.answer = answer;
  }
}

/**
 * Room(handle, {token, onEvent(event, {history}), onState(state, detail)}).
 * States: 'connecting', 'ready' (joined; requests flow), 'reconnecting' (detail: {inMillis}),
 * 'auth_failed' (the token was refused; the room goes on read-only), 'stopped'.
 */
export class Room {
  constructor(handle, { token = null, path = '/ws', onEvent = () => {}, onState = () => {}, onNotice = () => {} } = {}) {
    this.handle = handle;
    this.token = token;
    this.path = path;
    this.onEvent = onEvent;
    this.onState = onState;
    this.onNotice = onNotice;
    this.user = null;          // {userId, name} once authenticated
    this.viewers = null;
    this.nextId = 1;
    this.pending = new Map();  // id -> {msg, resolve, reject, timer, retry}
    this.waiting = [];         // requests made while not ready: sent on the next 'ready'
    this.lastEventId = null;   // highest event id seen (null before the first join)
    this.backlog = null;       // during the first replay: ids seen, to show each event once
    this.attempt = 0;
    this.ready = false;
    this.stopped = false;
    this.ws = null;
  }

  start() {
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000);
    this.onState('stopped');
  }

  /**
   * Sends a request once the room is ready and resolves with its ack, rejects with a RoomError.
   * retry: true re-sends it after a reconnect (only for idempotent requests: gifts carry their key).
   */
  request(msg, { retry = false } = {}) {
    return new Promise((resolve, reject) => {
      const entry = { msg, resolve, reject, retry };
      if (this.ready) this.send(entry); else this.waiting.push(entry);
    });
  }

  send(entry) {
    const id = String(this.nextId++);
    entry.timer = setTimeout(() => {
      this.pending.delete(id);
      entry.reject(new RoomError({ code: 'timeout', message: 'No answer from the server in time' }));
    }, REQUEST_TIMEOUT_MS);
    this.pending.set(id, entry);
    this.ws.send(JSON.stringify({ ...entry.msg, id }));
  }

  // --- the connection ---------------------------------------------------------------------------

  connect() {
    if (this.stopped) return;
    this.onState(this.lastEventId === null ? 'connecting' : 'reconnecting', { inMillis: 0 });
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${location.host}${this.path}`, SUBPROTOCOL);
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.handshake(ws).catch(err => {
      if (err && err.code === 'auth_failed') {
        this.token = null; // read-only from now on: the next connection is anonymous
        this.onState('auth_failed', { message: err.message });
      } else if (err && err.code !== 'disconnected') {
        this.notice(`Could not join the room: ${err.message}`);
      }
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'handshake failed');
    });
    ws.onmessage = m => this.receive(m.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ready = false;
      this.ws = null;
      this.backlog = null;
      for (const [id, entry] of this.pending) {
        clearTimeout(entry.timer);
        this.pending.delete(id);
        if (entry.retry) this.waiting.push(entry);
        else entry.reject(new RoomError({ code: 'disconnected', message: 'The connection was lost before the server answered' }));
      }
      this.scheduleReconnect();
    };
  }

  // The requests of a fresh connection are sent directly (not through request(), which waits for 'ready').
  direct(msg) {
    return new Promise((resolve, reject) => this.send({ msg, resolve, reject, retry: false }));
  }

  async handshake(ws) {
    if (this.token) {
      const ack = await this.direct({ type: 'auth', token: this.token });
      this.user = { userId: ack.userId, name: ack.name };
    }
    if (this.lastEventId === null) {
      const joined = await this.direct({ type: 'join', room: this.handle });
      this.setViewers(joined.viewers);
      const from = Math.max(0, joined.lastEventId - BACKLOG_EVENTS);
      this.backlog = { seen: new Set(), upTo: joined.lastEventId };
      this.lastEventId = joined.lastEventId;
      if (from < joined.lastEventId) {
        await this.direct({ type: 'resume', room: this.handle, lastEventId: from }).catch(e => {
          if (e.code !== 'resync') throw e; // resync: in the room, older events gone; nothing to show
        });
      }
      this.backlog = null;
    } else {
      await this.direct({ type: 'resume', room: this.handle, lastEventId: this.lastEventId }).catch(e => {
        if (e.code !== 'resync') throw e;
        // Some missed events are gone: we are in the room again, the view may lack them.
        this.notice('Some chat messages were missed while reconnecting.');
        this.lastEventId = Math.max(this.lastEventId, Number(e.answer.lastEventId) || 0);
      });
    }
    if (this.ws !== ws) return;
    this.attempt = 0;
    this.lastNotice = null;
    this.ready = true;
    this.onState('ready', { user: this.user });
    const queued = this.waiting;
    this.waiting = [];
    for (const entry of queued) this.send(entry);
  }

  // The same notice twice in a row (a ban refusing every reconnect, say) is shown once.
  notice(text) {
    if (text !== this.lastNotice) this.onNotice(text);
    this.lastNotice = text;
  }

  scheduleReconnect() {
    if (this.stopped) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.5 + Math.random() / 2));
    this.attempt = Math.min(this.attempt + 1, 10);
    this.onState('reconnecting', { inMillis: delay });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  setViewers(count) {
    if (typeof count === 'number') {
      this.viewers = count;
      this.onEvent({ type: 'viewers', count }, { history: false, local: true });
    }
  }

  receive(text) {
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    if (msg.type === 'ack' || msg.type === 'error') {
      const entry = msg.id != null && this.pending.get(String(msg.id));
      if (!entry) {
        if (msg.type === 'error') console.warn('ovation: server error', msg);
        return;
      }
      this.pending.delete(String(msg.id));
      clearTimeout(entry.timer);
      if (msg.type === 'ack') entry.resolve(msg); else entry.reject(new RoomError(msg));
      return;
    }
    if (typeof msg.eventId !== 'number') return;
    let history = false;
    if (this.backlog) {
      // First join: live events may arrive before the replay of the same ids; show each once.
      if (this.backlog.seen.has(msg.eventId)) return;
      this.backlog.seen.add(msg.eventId);
      history = msg.eventId <= this.backlog.upTo;
      this.lastEventId = Math.max(this.lastEventId, msg.eventId);
    } else {
      if (this.lastEventId !== null && msg.eventId <= this.lastEventId) return;
      this.lastEventId = msg.eventId;
    }
    if (msg.type === 'viewers') this.viewers = msg.count;
    this.onEvent(msg, { history });
  }
}
