// Creator studio: /studio on the public port (docs/web.md, "Studio").
// Sign-in with the platform token (the viewer JWT whose subject owns a creator), given as /studio#token=...
// or pasted; kept in sessionStorage for this tab. Talks to /api/studio* (docs/api.md) and to /ws for moderation.
import {
  api, ApiError, copyButton, describe, el, fill, formatInt, formatMinor, table, tokenForm, tokenStore,
} from '/assets/console-kit.js';

const HEALTH_EVERY_MS = 3000;
const EARNINGS_EVERY_MS = 30000;

const app = document.getElementById('app');
const token = tokenStore('ovation.studio.token');
let timers = [];
let socket = null;

function stopAll() {
  timers.forEach(clearInterval);
  timers = [];
  if (socket) {
    socket.close(1000);
    socket = null;
  }
}

function signedOut(error) {
  stopAll();
  fill(app,
    el('header', { class: 'bar' }, el('h1', {}, 'Ovation Studio')),
    tokenForm({
      title: 'Sign in',
      hint: 'Paste your platform token (the one the Ovation apps use), or open this page as /studio#token=YOUR_TOKEN. '
        + 'It stays in this tab only.',
      error,
      onToken: t => { token.set(t); start(); },
    }));
}

async function start() {
  stopAll();
  if (!token.get()) return signedOut();
  fill(app, el('p', { class: 'muted' }, 'Loading your channel...'));
  let studio;
  try {
    studio = await api('/api/studio', { token: token.get() });
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
      token.clear();
      return signedOut(e.code === 'not_a_creator'
        ? 'This account does not own a creator channel. Ask the platform team to link your user to your channel.'
        : `Sign-in failed: ${describe(e)}`);
    }
    return fill(app, el('p', { class: 'error', role: 'alert' }, `Cannot load the studio: ${describe(e)}`),
      el('button', { type: 'button', onclick: start }, 'Try again'));
  }
  render(studio);
}

function render(studio) {
  const signOut = el('button', { type: 'button', class: 'link', onclick: () => { token.clear(); signedOut(); } }, 'Sign out');
  const healthCard = el('section', { class: 'card', id: 'health' });
  const earningsCard = el('section', { class: 'card', id: 'earnings' });
  fill(app,
    el('header', { class: 'bar' },
      el('h1', {}, 'Ovation Studio'),
      el('span', { class: 'who' }, el('strong', { id: 'handle' }, studio.handle),
        ` · ${studio.status} · share ${formatMinor(studio.revenueShareBps, 2)}% · `,
        el('a', { href: studio.watchPath, target: '_blank', rel: 'noopener' }, 'watch page'), ' · ', signOut)),
    el('div', { class: 'grid' },
      healthCard,
      obsCard(studio),
      keyCard(studio),
      earningsCard,
      moderationCard(studio),
      moderatorsCard()));
  refreshHealth(healthCard);
  refreshEarnings(earningsCard);
  timers.push(setInterval(() => refreshHealth(healthCard), HEALTH_EVERY_MS));
  timers.push(setInterval(() => refreshEarnings(earningsCard), EARNINGS_EVERY_MS));
}

// ---- OBS settings

function setting(label, value, id) {
  return el('div', { class: 'setting' },
    el('span', { class: 'label' }, label),
    el('code', { id }, value),
    copyButton(() => value));
}

function obsCard(studio) {
  const obs = studio.obs;
  const e = obs.encoder;
  return el('section', { class: 'card', id: 'obs' },
    el('h2', {}, 'OBS settings'),
    el('p', { class: 'muted' }, 'Settings → Stream: Service ', el('strong', {}, 'Custom...'), ', then:'),
    setting('Server', obs.server, 'obs-server'),
    obs.rtmpsServer ? setting('Server (RTMPS, encrypted)', obs.rtmpsServer, 'obs-rtmps-server') : null,
    el('div', { class: 'setting' }, el('span', { class: 'label' }, 'Stream Key'),
      el('span', { class: 'muted' }, 'see "Stream key" below')),
    el('p', { class: 'muted' }, 'Settings → Output (Advanced) → Streaming:'),
    el('ul', { class: 'plain' },
      el('li', {}, `Encoder: ${e.videoEncoder}, rate control ${e.rateControl}, profile ${e.profile}, tune ${e.tune}, B-frames ${e.bFrames}`),
      el('li', {}, el('strong', {}, `Keyframe interval: ${e.keyframeIntervalSeconds} s`), ' (players join and switch at keyframes)'),
      el('li', {}, `Audio: ${e.audioCodec} ${e.audioBitrateKbps} Kbps, ${e.audioSampleRateHz / 1000} kHz`),
      e.presets.map(p => el('li', {}, `${p.resolution} at ${p.fps} fps: ${p.videoBitrateKbps} Kbps`, ' ',
        copyButton(() => String(p.videoBitrateKbps), 'Copy bitrate')))));
}

// ---- stream key

function keyCard(studio) {
  const out = el('div', { id: 'key-out' });
  const button = el('button', { type: 'button', id: 'rotate-key', class: 'danger' }, 'Reveal a new stream key');
  button.addEventListener('click', async () => {
    if (!confirm('Issue a new stream key?\n\nThe current key stops working at once: if OBS is streaming with it, '
      + 'the next reconnect fails until you paste the new key into OBS.')) return;
    button.disabled = true;
    try {
      const r = await api('/api/studio/stream-key', { token: token.get(), method: 'POST' });
      fill(out,
        el('div', { class: 'setting' }, el('span', { class: 'label' }, 'Stream Key'),
          el('code', { id: 'stream-key', class: 'secret' }, r.streamKey), copyButton(() => r.streamKey)),
        el('p', { class: 'warn' }, 'Shown once: copy it into OBS now. It is not stored in this page or anywhere readable; '
          + 'if you lose it, reveal a new one.'));
    } catch (e) {
      fill(out, el('p', { class: 'error', role: 'alert' }, `Could not issue a key: ${describe(e)}`));
    } finally {
      button.disabled = false;
    }
  });
  return el('section', { class: 'card', id: 'stream-key-card' },
    el('h2', {}, 'Stream key'),
    el('p', { class: 'muted' }, 'Ovation keeps only a hash of your stream key, so the current key cannot be shown again. '
      + 'Revealing a key issues a new one and the old one stops working at once. Never show it on stream.'),
    el('p', { class: 'muted' }, `Last issued: ${new Date(studio.streamKeyRotatedAt).toLocaleString()}`),
    button, out);
}

// ---- live health

function stat(label, value, field, warn) {
  return el('div', { class: `stat${warn ? ' warn' : ''}` }, el('span', { class: 'label' }, label),
    el('span', { class: 'value', id: `health-${field}`, dataset: { field } }, value));
}

function uptime(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

async function refreshHealth(card) {
  let h;
  try {
    h = await api('/api/studio/health', { token: token.get() });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return signedOut('Your token expired: sign in again.');
    return fill(card, el('h2', {}, 'Live health'), el('p', { class: 'error' }, `Health unavailable: ${describe(e)} (retrying)`));
  }
  if (!h.live) {
    return fill(card,
      el('h2', {}, 'Live health ', el('span', { class: 'badge off', id: 'health-state' }, 'offline')),
      el('p', { class: 'muted' }, 'Not receiving your stream. Start streaming in OBS with the server and key on this page; '
        + 'this panel refreshes every few seconds.'),
      stat('Viewers', formatInt(h.viewers), 'viewers'));
  }
  const keyframeSeconds = h.keyframeIntervalMillis / 1000;
  const keyframeWarn = h.keyframeIntervalMillis > 0 && (h.keyframeIntervalMillis < 500 || h.keyframeIntervalMillis > 4000);
  const stale = h.measuredAt && Date.now() - Date.parse(h.measuredAt) > 10000;
  fill(card,
    el('h2', {}, 'Live health ', el('span', { class: 'badge on', id: 'health-state' }, h.playable ? 'live' : 'starting')),
    stale ? el('p', { class: 'warn' }, 'No media from OBS for a while: check your connection.') : null,
    el('div', { class: 'stats' },
      stat('Bitrate', `${formatInt(h.bitrateKbps)} Kbps`, 'bitrate'),
      stat('Frame rate', `${h.fps} fps`, 'fps'),
      stat('Keyframe interval', h.keyframeIntervalMillis ? `${keyframeSeconds.toFixed(2)} s` : 'n/a', 'keyframe', keyframeWarn),
      stat('Codec', [h.videoCodec, h.audioCodec].filter(Boolean).join(' + ') || 'n/a', 'codec'),
      stat('Resolution', h.resolution || 'n/a', 'resolution'),
      stat('Uptime', uptime(h.uptimeSeconds), 'uptime'),
      stat('Viewers', formatInt(h.viewers), 'viewers')),
    keyframeWarn ? el('p', { class: 'warn' }, 'Set the keyframe interval to 2 s in OBS for smooth, low-latency playback.') : null,
    h.codecs ? el('p', { class: 'muted small' }, `HLS codecs: ${h.codecs}`) : null);
  card.dataset.bitrateKbps = String(h.bitrateKbps);
  card.dataset.fps = String(h.fps);
  card.dataset.keyframeIntervalMillis = String(h.keyframeIntervalMillis);
}

// ---- earnings

async function refreshEarnings(card) {
  let e;
  try {
    e = await api('/api/studio/earnings', { token: token.get() });
  } catch (err) {
    return fill(card, el('h2', {}, 'Earnings'), el('p', { class: 'error' }, `Earnings unavailable: ${describe(err)}`));
  }
  const f = e.fiat;
  const money = minor => `${formatMinor(minor, f.minorUnits)} ${f.currency}`;
  const row = (label, coins, minor, field, note) => el('tr', {},
    el('th', {}, label),
    el('td', { class: 'num', id: `earnings-${field}` }, `${formatInt(coins)} coins`),
    el('td', { class: 'num' }, money(minor)),
    el('td', { class: 'muted small' }, note));
  fill(card,
    el('h2', {}, 'Earnings'),
    el('div', { class: 'table-wrap' }, el('table', {}, el('tbody', {},
      row('Pending', e.coins.pending, f.pendingMinor, 'pending', `younger than ${e.payoutRate.holdDays} days, or on hold`),
      row('Payable', e.coins.payable, f.payableMinor, 'payable', `paid in the next payout run from ${formatInt(e.payoutRate.thresholdCoins)} coins`),
      row('Paid', e.coins.paid, f.paidMinor, 'paid', e.lastPayout ? `last run ${e.lastPayout.runId}` : 'no payout yet')))),
    el('p', { class: 'muted small' }, `Rate: ${money(e.payoutRate.minorPerThousandCoins)} per 1,000 coins (amounts in currency rounded down).`));
}

// ---- moderation over the WebSocket (docs/protocol.md, "moderate")

function moderationCard(studio) {
  const status = el('span', { class: 'badge off', id: 'mod-connection' }, 'connecting');
  const log = el('ol', { class: 'log', id: 'mod-log' });
  const result = el('p', { id: 'mod-result', role: 'status' });
  let nextId = 1;
  const pending = new Map();

  const note = (text, cls) => {
    log.prepend(el('li', { class: cls }, `${new Date().toLocaleTimeString()} ${text}`));
    while (log.children.length > 50) log.lastChild.remove();
  };

  const explain = msg => {
    if (msg.code === 'forbidden') {
      return 'Refused (forbidden): the server does not treat you as this room\'s moderator. '
        + 'Room owner rights come from the creator link; ask the platform team if this persists.';
    }
    return `Refused: ${msg.message || msg.code} (${msg.code})`;
  };

  function send(request) {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      result.textContent = 'Not connected to chat yet; try again in a moment.';
      result.className = 'error';
      return;
    }
    const id = String(nextId++);
    pending.set(id, request);
    socket.send(JSON.stringify({ type: 'moderate', id, room: studio.handle, ...request }));
    result.textContent = 'Sending...';
    result.className = 'muted';
  }

  function connect(attempt = 0) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws`, 'ovation.v1');
    socket = ws;
    ws.addEventListener('open', () => {
      // authenticated but not joined: moderating needs no membership, and a join would count the studio as a viewer
      ws.send(JSON.stringify({ type: 'auth', id: 'auth', token: token.get() }));
    });
    ws.addEventListener('message', ev => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.type === 'ack' && msg.id === 'auth') {
        status.textContent = 'connected';
        status.className = 'badge on';
        attempt = 0;
      } else if (msg.type === 'error' && msg.id === 'auth') {
        status.textContent = `chat: ${msg.code}`;
        status.className = 'badge off';
      } else if ((msg.type === 'ack' || msg.type === 'error') && pending.has(msg.id)) {
        const req = pending.get(msg.id);
        pending.delete(msg.id);
        const what = `${req.action}${req.userId ? ` ${req.userId}` : ''}${req.durationSeconds !== undefined ? ` ${req.durationSeconds}s` : ''}`;
        if (msg.type === 'ack') {
          result.textContent = `Done: ${what}`;
          result.className = 'ok';
          note(`you: ${what}`);
        } else {
          result.textContent = explain(msg);
          result.className = 'error';
          note(`refused ${what}: ${msg.code}`, 'error');
        }
      }
    });
    ws.addEventListener('close', ev => {
      if (socket !== ws) return; // replaced or signed out
      status.textContent = ev.code === 4001 ? 'chat: token refused' : 'reconnecting';
      status.className = 'badge off';
      if (ev.code === 4001) return;
      const delay = Math.min(30000, 1000 * 2 ** attempt);
      setTimeout(() => { if (socket === ws) connect(attempt + 1); }, delay);
    });
  }
  connect();

  const slowSeconds = el('input', { type: 'number', id: 'slow-seconds', min: 0, max: 3600, value: 10 });
  const userId = el('input', { type: 'text', id: 'mod-user', placeholder: 'user id', maxlength: 64, autocomplete: 'off' });
  const timeoutSeconds = el('input', { type: 'number', id: 'timeout-seconds', min: 1, max: 604800, value: 600 });
  const user = () => {
    const u = userId.value.trim();
    if (!u) {
      result.textContent = 'Enter the user id first.';
      result.className = 'error';
    }
    return u;
  };
  const action = (id, label, build, cls) => el('button', {
    type: 'button', id, class: cls, onclick: () => { const r = build(); if (r) send(r); },
  }, label);

  return el('section', { class: 'card', id: 'moderation' },
    el('h2', {}, 'Moderation ', status),
    el('div', { class: 'row' },
      el('label', {}, 'Slow mode (seconds) ', slowSeconds),
      action('slow-on', 'Set slow mode', () => ({ action: 'slow', durationSeconds: Math.max(0, Number(slowSeconds.value) | 0) })),
      action('slow-off', 'Slow mode off', () => ({ action: 'slow', durationSeconds: 0 }))),
    el('div', { class: 'row' },
      el('label', {}, 'User ', userId),
      el('label', {}, 'Timeout (seconds) ', timeoutSeconds),
      action('timeout-user', 'Time out', () => user() && ({ action: 'timeout', userId: user(), durationSeconds: Math.max(1, Number(timeoutSeconds.value) | 0) })),
      action('ban-user', 'Ban', () => user() && ({ action: 'ban', userId: user() }), 'danger'),
      action('unban-user', 'Unban', () => user() && ({ action: 'unban', userId: user() }))),
    result,
    el('h3', {}, 'Your moderation this session'),
    log);
}

// ---- appointed moderators (docs/api.md, /api/studio/moderators)

const USER_ID = /^[A-Za-z0-9_.:@-]{1,64}$/;

function moderatorsCard() {
  const card = el('section', { class: 'card', id: 'moderators' });
  const list = el('div', { id: 'moderators-list' }, el('p', { class: 'muted' }, 'Loading...'));
  const result = el('p', { id: 'moderators-result', role: 'status' });
  const input = el('input', { type: 'text', id: 'moderator-user', placeholder: 'user id', maxlength: 64, autocomplete: 'off' });
  const say = (text, cls) => { result.textContent = text; result.className = cls; };

  async function refresh() {
    try {
      const r = await api('/api/studio/moderators', { token: token.get() });
      fill(list,
        table([
          { label: 'User', get: m => m.userId },
          { label: 'Appointed', get: m => `${new Date(m.appointedAt).toLocaleString()}${m.appointedBy ? '' : ' (by the platform)'}` },
          { label: '', get: m => el('button', { type: 'button', class: 'link', dataset: { user: m.userId }, onclick: () => change('DELETE', m.userId) }, 'Remove') },
        ], r.moderators, { empty: 'No moderators yet: only you moderate your room.', id: 'moderators-table' }),
        el('p', { class: 'muted small' }, `${r.moderators.length} of at most ${formatInt(r.max)}.`));
      card.dataset.count = String(r.moderators.length);
    } catch (e) {
      fill(list, el('p', { class: 'error' }, `Cannot load the moderators: ${describe(e)}`));
    }
  }

  async function change(method, userId) {
    say('Saving...', 'muted');
    try {
      await api(`/api/studio/moderators/${encodeURIComponent(userId)}`, { token: token.get(), method });
      say(method === 'PUT' ? `${userId} is a moderator now.` : `${userId} is no longer a moderator.`, 'ok');
      if (method === 'PUT') input.value = '';
    } catch (e) {
      say(`Refused: ${describe(e)}`, 'error');
    }
    await refresh();
  }

  const add = el('button', {
    type: 'button', id: 'add-moderator', onclick: () => {
      const u = input.value.trim();
      if (!USER_ID.test(u)) return say('A user id is 1 to 64 characters of A-Z, a-z, 0-9 and _ . : @ -', 'error');
      return change('PUT', u);
    },
  }, 'Make moderator');
  fill(card,
    el('h2', {}, 'Moderators'),
    el('p', { class: 'muted small' }, 'Moderators may ban, time out, delete messages and set slow or chat mode in your room '
      + '(from the watch page); only you appoint them. Removing one takes effect at once.'),
    el('div', { class: 'row' }, el('label', {}, 'User ', input), add),
    result,
    list);
  refresh();
  return card;
}

start();
