// Watch page: /live/{handle} (docs/web.md). The creator's LL-HLS stream (hls.js, or native HLS where the
// browser plays it), the room's chat, viewers, gifts shown in sync with the video, the top gifters,
// the wallet and coin purchases. The viewer token comes in the fragment (#token=...); without one the
// page is read-only.
import Hls from '/assets/hls.min.mjs';
import { Room, RoomError, randomKey, takeTokenFromFragment } from '/assets/room.js';
import { el, giftIcon, giftLabel, tierOf, capChildren } from '/assets/dom.js';

const CHAT_MAX_ITEMS = 200;            // chat lines kept on screen
const CHAT_MAX_CHARS = 500;            // chat.max-chat-chars
const OFFLINE_POLL_MS = 5000;          // how often an offline channel is asked whether it is live
const GIFT_MAX_HOLD_MS = 30000;        // a gift waits at most this long for the video to reach it
const GIFT_MAX_ON_SCREEN = 6;
const GIFT_RETRIES = 3;                // gift_timeout / gift_unavailable: retried with the same key

const handle = decodeURIComponent(location.pathname.split('/')[2] || '').toLowerCase();
const token = takeTokenFromFragment();
const body = document.body;

// --- the page -----------------------------------------------------------------------------------

const video = el('video', { id: 'player', muted: true, autoplay: true, playsInline: true, controls: true });
const playerState = el('div', { id: 'player-state', class: 'player-state' }, 'Loading…');
const giftLayer = el('div', { id: 'gift-layer', class: 'gift-layer', 'aria-live': 'polite' });
const liveBadge = el('span', { id: 'live-badge', class: 'badge' }, '…');
const viewersEl = el('span', { id: 'viewers', class: 'viewers', title: 'Viewers now' });
const connEl = el('span', { id: 'connection', class: 'connection', role: 'status' });
const balanceEl = el('span', { id: 'balance', class: 'balance', title: 'Your coins' });
const giftButtons = el('div', { id: 'gift-buttons', class: 'gift-buttons' });
const buyButton = el('button', { id: 'buy-coins', type: 'button', class: 'buy', disabled: true }, 'Buy coins');
const packsEl = el('div', { id: 'coin-packs', class: 'coin-packs', hidden: true });
const messageEl = el('p', { id: 'message', class: 'message', role: 'alert' });
const leaderboardEl = el('ol', { id: 'leaderboard', class: 'leaderboard' });
const chatList = el('ol', { id: 'chat-list', class: 'chat-list', 'aria-live': 'polite' });
const chatInput = el('input', { id: 'chat-input', type: 'text', maxLength: CHAT_MAX_CHARS, autocomplete: 'off',
  placeholder: 'Say something…', 'aria-label': 'Chat message', disabled: true });
const chatSend = el('button', { id: 'chat-send', type: 'submit', disabled: true }, 'Send');
const chatForm = el('form', { id: 'chat-form', class: 'chat-form' }, chatInput, chatSend);
const chatNote = el('p', { id: 'chat-note', class: 'note' });

const app = document.getElementById('app');
app.replaceChildren(
  el('header', { class: 'watch-head' }, el('h1', {}, handle || '?'), liveBadge, viewersEl, connEl),
  el('div', { class: 'watch' },
    el('section', { class: 'stage' },
      el('div', { class: 'player-box' }, video, playerState, giftLayer),
      el('div', { class: 'gift-bar' }, balanceEl, giftButtons, buyButton),
      packsEl,
      messageEl),
    el('aside', { class: 'side' },
      el('section', { class: 'panel' }, el('h2', {}, 'Top gifters'), leaderboardEl),
      el('section', { class: 'panel chat-panel' }, el('h2', {}, 'Chat'), chatList, chatForm, chatNote))));
document.title = `${handle} · Ovation`;

let messageTimer;
function showMessage(text, kind = 'error') {
  messageEl.textContent = text;
  messageEl.className = `message ${kind}`;
  clearTimeout(messageTimer);
  if (text) messageTimer = setTimeout(() => { messageEl.textContent = ''; }, 8000);
}

function setPlayerState(state, text) {
  body.dataset.player = state;
  video.controls = state === 'playing' || state === 'loading';
  playerState.textContent = text || '';
  playerState.hidden = !text;
  liveBadge.textContent = state === 'playing' || state === 'loading' ? 'LIVE' : state === 'missing' ? '' : 'OFFLINE';
  liveBadge.classList.toggle('live', state === 'playing' || state === 'loading');
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (options.auth && token) headers.Authorization = `Bearer ${token}`;
  if (options.body) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { ...options, headers });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = new Error((data.error && data.error.message) || `HTTP ${res.status}`);
    e.status = res.status;
    e.code = data.error && data.error.code;
    throw e;
  }
  return data;
}

// --- the player -----------------------------------------------------------------------------------

// Native HLS where the browser is Safari/WebKit (it plays LL-HLS itself) or where hls.js cannot run (no
// MediaSource); hls.js elsewhere, even where canPlayType answers 'maybe' (recent Chromium does), because
// hls.js gives LL-HLS parts and the program date-time the gifts sync to. ?player=native|hlsjs overrides.
const canNative = video.canPlayType('application/vnd.apple.mpegurl') !== '';
const forced = new URLSearchParams(location.search).get('player');
const useNative = forced === 'native' ? canNative
  : forced === 'hlsjs' ? !Hls.isSupported()
  : canNative && (!Hls.isSupported() || /Apple/.test(navigator.vendor || ''));
let hls = null;
let playlistPath = `/hls/${encodeURIComponent(handle)}/index.m3u8`;
let restartTimer = null;
let restarts = 0;

/** The program date-time (epoch ms) of the frame on screen, or null when nothing plays. */
function playingDateMillis() {
  if (hls) {
    const d = hls.playingDate;
    return d && !isNaN(d.getTime()) ? d.getTime() : null;
  }
  if (video.src && typeof video.getStartDate === 'function') {
    const start = video.getStartDate().getTime();
    return isNaN(start) || start === 0 ? null : start + video.currentTime * 1000;
  }
  return null;
}

async function channel() {
  try {
    const c = await api(`/api/channels/${encodeURIComponent(handle)}`);
    if (c.playlistPath) playlistPath = c.playlistPath;
    return c.live ? 'live' : 'offline';
  } catch (e) {
    return e.status === 404 ? 'missing' : 'error';
  }
}

async function waitUntilLive() {
  stopPlayer();
  for (;;) {
    const state = await channel();
    if (state === 'live') break;
    if (state === 'missing') {
      setPlayerState('missing', `There is no channel named “${handle}”.`);
      return;
    }
    setPlayerState('offline', state === 'error'
      ? 'Cannot reach the server; trying again…'
      : `${handle} is offline. The stream starts here as soon as they go live.`);
    await new Promise(r => setTimeout(r, OFFLINE_POLL_MS));
  }
  startPlayer();
}

function startPlayer() {
  stopPlayer();
  setPlayerState('loading', 'Starting the stream…');
  if (useNative) {
    video.src = playlistPath;
  } else if (Hls.isSupported()) {
    hls = new Hls({ lowLatencyMode: true, backBufferLength: 30, liveDurationInfinity: true });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && restarts === 0) {
        restarts++;
        hls.recoverMediaError();
        return;
      }
      playbackFailed(`${data.type}/${data.details}`);
    });
    hls.loadSource(playlistPath);
    hls.attachMedia(video);
  } else {
    setPlayerState('error', 'This browser cannot play HLS video.');
    return;
  }
  video.play().catch(() => { /* autoplay refused: the controls are there */ });
}

function stopPlayer() {
  clearTimeout(restartTimer);
  clearTimeout(stallTimer);
  if (hls) {
    hls.destroy();
    hls = null;
  }
  if (video.getAttribute('src')) {
    video.removeAttribute('src');
    video.load();
  }
}

function playbackFailed(why) {
  console.warn('ovation: playback stopped:', why);
  stopPlayer();
  setPlayerState('loading', 'The stream was interrupted; reconnecting…');
  restarts++;
  const delay = Math.min(10000, 1000 * restarts);
  restartTimer = setTimeout(async () => {
    const state = await channel();
    if (state === 'live') startPlayer(); else waitUntilLive();
  }, delay);
}

// A short stall shows the controls' spinner; a long one (the streamer's connection dropped, say) says so.
// When the stream has really ended the playlist goes away, hls.js fails fatally and the page goes offline.
const STALL_NOTE_MS = 5000;
let stallTimer = null;
video.addEventListener('playing', () => {
  restarts = 0;
  clearTimeout(stallTimer);
  setPlayerState('playing', '');
});
video.addEventListener('waiting', () => {
  clearTimeout(stallTimer);
  stallTimer = setTimeout(() => {
    if (body.dataset.player === 'playing' && video.readyState < 3) setPlayerState('playing', 'Waiting for the stream…');
  }, STALL_NOTE_MS);
});
video.addEventListener('error', () => {
  if (!hls && video.getAttribute('src')) playbackFailed('native playback error');
});
video.addEventListener('ended', () => playbackFailed('ended'));

// --- gifts in sync with the video -------------------------------------------------------------------

let catalog = new Map();   // gift id -> {id, name, coins, tier}
const held = [];           // gift events waiting for the video to reach their mediaTime
let syncTimer = null;

function holdGift(event) {
  held.push({ event, arrivedAt: Date.now() });
  releaseGifts();
}

function releaseGifts() {
  const pdt = playingDateMillis();
  const now = Date.now();
  for (let i = 0; i < held.length;) {
    const { event, arrivedAt } = held[i];
    let how = null;
    if (typeof event.mediaTime !== 'number' || pdt === null || body.dataset.player !== 'playing') how = 'immediate';
    else if (pdt >= event.mediaTime) how = 'video';
    else if (now - arrivedAt > GIFT_MAX_HOLD_MS) how = 'timeout';
    if (how) {
      held.splice(i, 1);
      showGift(event, how, pdt, arrivedAt);
    } else {
      i++;
    }
  }
  clearTimeout(syncTimer);
  if (held.length) syncTimer = setTimeout(releaseGifts, 100);
}

function showGift(event, how, pdt, arrivedAt) {
  const gift = catalog.get(event.gift) || { name: event.gift, tier: 1 };
  const who = (event.sender && event.sender.name) || 'Someone';
  // How it was released, for people debugging sync and for the browser test.
  const sync = { gift: event.gift, sync: how, mediaTime: event.mediaTime ?? '', pdtAtShow: pdt ?? '', arrivedAt, shownAt: Date.now() };
  const fx = el('div', { class: `gift-fx tier-${tierOf(gift)}`, dataset: { eventId: event.eventId, ...sync } },
    el('span', { class: 'gift-icon' }, giftIcon(event.gift)),
    el('span', { class: 'gift-text' }, el('b', {}, who), ` sent ${giftLabel(gift.name, event.count)}`,
      event.combo > 1 ? el('span', { class: 'combo' }, ` combo ×${event.combo}`) : null));
  fx.addEventListener('animationend', () => fx.remove());
  setTimeout(() => fx.remove(), 8000); // when animations are off (prefers-reduced-motion)
  giftLayer.append(fx);
  capChildren(giftLayer, GIFT_MAX_ON_SCREEN);
  const line = addChatLine(event, 'gift', `${giftIcon(event.gift)} ${who} sent ${giftLabel(gift.name, event.count)}`);
  Object.assign(line.dataset, sync);
}

// --- chat, viewers, leaderboard ---------------------------------------------------------------------

const ROLE_BADGES = { creator: 'Creator', moderator: 'Mod' };

function addChatLine(event, kind, text, name, role) {
  const nearBottom = chatList.scrollHeight - chatList.scrollTop - chatList.clientHeight < 40;
  const badge = ROLE_BADGES[role] ? el('span', { class: `role-badge ${role}` }, ROLE_BADGES[role]) : null;
  const li = el('li', { class: `chat-line ${kind}`, dataset: { eventId: event.eventId ?? '' } },
    badge, badge ? ' ' : null, name ? el('b', { class: 'name' }, name) : null, name ? ' ' : null, el('span', { class: 'text' }, text));
  chatList.append(li);
  capChildren(chatList, CHAT_MAX_ITEMS);
  if (nearBottom) chatList.scrollTop = chatList.scrollHeight;
  return li;
}

function showLeaderboard(top) {
  const me = room.user && room.user.userId;
  leaderboardEl.replaceChildren(...(top || []).map(entry =>
    el('li', { class: entry.id === me ? 'me' : null }, el('span', { class: 'name' }, entry.name || entry.id),
      el('span', { class: 'coins' }, `${entry.coins} 🪙`))));
  if (!leaderboardEl.childElementCount) leaderboardEl.append(el('li', { class: 'empty' }, 'No gifts yet this stream.'));
}

function onEvent(event, { history }) {
  switch (event.type) {
    case 'chat':
      addChatLine(event, 'chat', event.text, (event.user && event.user.name) || '?', event.user && event.user.role);
      break;
    case 'gift':
      if (history) addChatLine(event, 'gift', `${giftIcon(event.gift)} ${(event.sender && event.sender.name) || 'Someone'} sent ${giftLabel((catalog.get(event.gift) || { name: event.gift }).name, event.count)}`);
      else holdGift(event);
      break;
    case 'leaderboard':
      showLeaderboard(event.top);
      break;
    case 'viewers':
      viewersEl.textContent = `👁 ${event.count} watching`;
      break;
    case 'system':
      addChatLine(event, 'system', event.text);
      break;
    case 'moderation':
      if (event.action === 'delete' && event.deletedEventId != null) {
        const gone = chatList.querySelector(`[data-event-id="${Number(event.deletedEventId)}"]`);
        if (gone) gone.remove();
      } else if (event.action === 'slow') {
        addChatLine(event, 'system', event.durationSeconds > 0 ? `Slow mode: one message every ${event.durationSeconds} s.` : 'Slow mode is off.');
      } else if (event.action === 'mode') {
        addChatLine(event, 'system', `Chat is open to ${event.mode}.`);
      } else if (event.action === 'mod' || event.action === 'unmod') {
        addChatLine(event, 'system', event.action === 'mod' ? `${event.userId} is now a moderator.` : `${event.userId} is no longer a moderator.`);
      }
      break;
    default:
      break; // likes and types this page does not know
  }
}

const ERROR_TEXT = {
  insufficient_funds: 'Not enough coins for that gift; nothing was charged.',
  rate_limited: 'Slow down: too many requests, try again in a few seconds.',
  message_too_long: `Messages are at most ${CHAT_MAX_CHARS} characters.`,
  blocked_word: 'That message contains a word this chat does not allow.',
  banned: 'You are banned from this room for now.',
  followers_only: 'Only followers can chat right now.',
  subscribers_only: 'Only subscribers can chat right now.',
  auth_required: 'Sign in (open the page with your viewer token) to chat and send gifts.',
  unknown_gift: 'That gift is not available.',
  unknown_room: 'This channel does not take gifts.',
  gift_timeout: 'The gift could not be confirmed in time; nothing was charged twice. Try again.',
  gift_unavailable: 'Gifts are unavailable right now; try again shortly.',
  disconnected: 'The connection dropped before the server answered; try again.',
  timeout: 'The server did not answer in time; try again.',
};
function errorText(e) {
  if (e && e.code === 'slow_mode') return `Slow mode: wait ${e.answer.seconds ?? 'a few'} s between messages.`;
  return (e && ERROR_TEXT[e.code]) || (e && e.message) || 'Something went wrong.';
}

chatForm.addEventListener('submit', async ev => {
  ev.preventDefault();
  const text = chatInput.value.trim();
  if (!text) return;
  chatSend.disabled = true;
  try {
    await room.request({ type: 'chat', room: handle, text });
    chatInput.value = '';
    chatNote.textContent = '';
  } catch (e) {
    chatNote.textContent = errorText(e);
  } finally {
    chatSend.disabled = !room.ready || !room.user;
    chatInput.focus();
  }
});

// --- wallet, gifts, coin packs ----------------------------------------------------------------------

let balance = null;
function showBalance(coins) {
  balance = coins;
  balanceEl.textContent = coins === null ? '' : `🪙 ${coins}`;
  balanceEl.dataset.coins = coins === null ? '' : String(coins);
  for (const b of giftButtons.querySelectorAll('button')) {
    b.classList.toggle('unaffordable', coins !== null && Number(b.dataset.coins) > coins);
  }
}

async function loadWallet() {
  if (!token) return;
  try {
    const w = await api('/api/wallet', { auth: true });
    showBalance(typeof w.available === 'number' ? w.available : w.coins);
  } catch (e) {
    if (e.status === 401) showMessage('Your viewer token was refused (expired?): reload the page with a new one to chat and send gifts.');
  }
}

async function sendGift(gift, button) {
  const key = randomKey(); // one key per tap: a retry of this tap is charged once
  button.disabled = true;
  try {
    let ack;
    for (let attempt = 0; ; attempt++) {
      try {
        ack = await room.request({ type: 'gift', room: handle, gift: gift.id, count: 1, idempotencyKey: key }, { retry: true });
        break;
      } catch (e) {
        const retryable = ['gift_timeout', 'gift_unavailable', 'timeout'].includes(e.code);
        if (!retryable || attempt >= GIFT_RETRIES) throw e;
        await new Promise(r => setTimeout(r, 1000 * (attempt + 1)));
      }
    }
    if (typeof ack.balance === 'number') showBalance(ack.balance);
    showMessage(`Sent ${gift.name}!`, 'ok');
  } catch (e) {
    showMessage(e instanceof RoomError ? errorText(e) : String(e));
  } finally {
    button.disabled = !room.ready || !room.user;
  }
}

async function loadGifts() {
  try {
    const { gifts } = await api('/api/gifts');
    catalog = new Map(gifts.map(g => [g.id, g]));
    giftButtons.replaceChildren(...gifts.map(g => el('button', {
      type: 'button', class: `gift tier-${tierOf(g)}`, disabled: true, title: `${g.name}: ${g.coins} coins`,
      dataset: { gift: g.id, coins: g.coins }, onclick: ev => sendGift(g, ev.currentTarget),
    }, el('span', { class: 'gift-icon' }, giftIcon(g.id)), el('span', {}, g.name), el('small', {}, `${g.coins}`))));
    showBalance(balance);
    enableSending();
  } catch {
    giftButtons.replaceChildren(el('span', { class: 'note' }, 'Gifts are unavailable.'));
  }
}

function priceText(minor, currency) {
  try {
    const fmt = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    const digits = fmt.resolvedOptions().maximumFractionDigits;
    return fmt.format(minor / 10 ** digits);
  } catch {
    return `${minor} ${currency}`;
  }
}

async function loadPacks() {
  let data;
  try {
    data = await api('/api/coin-packs');
  } catch {
    buyButton.title = 'Coin packs are unavailable right now.';
    return;
  }
  const packs = data.packs || [];
  if (!data.purchasesEnabled || !packs.length) {
    buyButton.disabled = true;
    buyButton.title = 'Buying coins is not available on this server (payments are not configured).';
    packsEl.replaceChildren(el('p', { id: 'buy-note', class: 'note' }, buyButton.title));
    packsEl.hidden = false;
    return;
  }
  if (!token) {
    buyButton.disabled = true;
    buyButton.title = 'Sign in (open the page with your viewer token) to buy coins.';
    packsEl.replaceChildren(el('p', { id: 'buy-note', class: 'note' }, buyButton.title));
    packsEl.hidden = false;
    return;
  }
  buyButton.disabled = false;
  packsEl.replaceChildren(el('p', { class: 'note' }, 'Coins are credited once the payment is confirmed.'),
    ...packs.map(p => el('button', { type: 'button', class: 'pack', dataset: { pack: p.id }, onclick: ev => buy(p, ev.currentTarget) },
      `${p.coins} coins · ${priceText(p.priceMinor, p.currency)}`)));
  buyButton.addEventListener('click', () => { packsEl.hidden = !packsEl.hidden; });
}

async function buy(pack, button) {
  button.disabled = true;
  try {
    const purchase = await api('/api/purchases', { method: 'POST', auth: true, body: JSON.stringify({ packId: pack.id, idempotencyKey: randomKey() }) });
    if (purchase.url) {
      try { sessionStorage.setItem('ovation.lastChannel', location.pathname); } catch { /* the result page links home */ }
      location.assign(purchase.url); // Stripe Checkout; it sends the viewer to /purchase/success or /purchase/cancel
      return;
    }
    showMessage('This server takes payments in its app (PaymentIntent), not on this page.');
  } catch (e) {
    showMessage(e.code === 'payments_not_configured' ? 'Buying coins is not available on this server.' : `Could not start the purchase: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

// --- the room ---------------------------------------------------------------------------------------

function enableSending() {
  const can = room.ready && !!room.user;
  chatInput.disabled = !can;
  chatSend.disabled = !can;
  for (const b of giftButtons.querySelectorAll('button')) b.disabled = !can;
  if (room.ready && !room.user) chatNote.textContent = 'Watching read-only: open this page with a viewer token to chat and send gifts.';
  else if (room.user && /read-only/.test(chatNote.textContent)) chatNote.textContent = '';
}

const room = new Room(handle, {
  token,
  onEvent,
  onNotice: text => addChatLine({}, 'system', text),
  onState: (state, detail = {}) => {
    body.dataset.room = state;
    if (state === 'ready') {
      connEl.textContent = '';
      enableSending();
    } else if (state === 'reconnecting') {
      connEl.textContent = 'Reconnecting to chat…';
      enableSending();
    } else if (state === 'connecting') {
      connEl.textContent = 'Connecting to chat…';
    } else if (state === 'auth_failed') {
      showMessage(`Your viewer token was refused (${detail.message || 'invalid'}): watching read-only.`);
    }
  },
});

if (!handle) {
  setPlayerState('missing', 'No channel in the address (/live/{handle}).');
} else {
  showLeaderboard([]);
  room.start();
  loadGifts();
  loadPacks();
  loadWallet();
  waitUntilLive();
  window.addEventListener('focus', loadWallet); // back from a purchase in another tab
}
