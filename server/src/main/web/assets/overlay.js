// OBS overlay: /overlay/{handle}?token=...&chat=1 (docs/web.md). A transparent page for OBS's Browser
// Source: gift alerts, queued and shown one at a time, sized by the gift's tier; the room's chat when
// chat=1. OBS composites it into the stream as it happens, so alerts are shown when they arrive (the
// stream carries them at the right media time by itself). Nothing else is drawn: no status text in the stream.
import { Room, takeTokenFromFragment } from '/assets/room.js';
import { el, giftIcon, giftLabel, tierOf, capChildren } from '/assets/dom.js';

const ALERT_BASE_MS = 3000;     // an alert stays this long, plus ALERT_PER_TIER_MS per tier
const ALERT_PER_TIER_MS = 1000;
const ALERT_GAP_MS = 300;
const QUEUE_MAX = 100;          // alerts waiting; beyond it the smallest waiting one is dropped
const CHAT_LINES = 8;
const CHAT_LINE_MS = 30000;     // a chat line fades out after this long

const handle = decodeURIComponent(location.pathname.split('/')[2] || '').toLowerCase();
const query = new URLSearchParams(location.search);
const token = query.get('token') || takeTokenFromFragment('ovation.overlay.token');
const showChat = query.get('chat') === '1';
const body = document.body;
body.dataset.room = 'connecting';

const alertBox = el('div', { id: 'alert', class: 'alert-box', 'aria-live': 'polite' });
const chatBox = el('ol', { id: 'overlay-chat', class: 'overlay-chat', hidden: !showChat });
document.getElementById('app').replaceChildren(alertBox, chatBox);

let catalog = new Map();
fetch('/api/gifts').then(r => r.json()).then(d => { catalog = new Map((d.gifts || []).map(g => [g.id, g])); }).catch(() => {});

// --- gift alerts, one at a time -------------------------------------------------------------------

const queue = [];
let showing = false;

function enqueue(event) {
  queue.push(event);
  if (queue.length > QUEUE_MAX) {
    // A flood: drop the waiting alert worth the fewest coins rather than fall minutes behind.
    let smallest = 0;
    for (let i = 1; i < queue.length; i++) if ((queue[i].totalCoins || 0) < (queue[smallest].totalCoins || 0)) smallest = i;
    queue.splice(smallest, 1);
  }
  body.dataset.queued = String(queue.length);
  if (!showing) next();
}

function next() {
  const event = queue.shift();
  body.dataset.queued = String(queue.length);
  if (!event) {
    showing = false;
    return;
  }
  showing = true;
  const gift = catalog.get(event.gift) || { name: event.gift, tier: 1 };
  const tier = tierOf(gift);
  const who = (event.sender && event.sender.name) || 'Someone';
  const alert = el('div', { class: `gift-alert tier-${tier}`, dataset: { eventId: event.eventId, gift: event.gift } },
    el('div', { class: 'gift-icon' }, giftIcon(event.gift)),
    el('div', { class: 'gift-text' }, el('b', {}, who), ` sent ${giftLabel(gift.name, event.count)}`),
    event.combo > 1 ? el('div', { class: 'combo' }, `combo ×${event.combo}`) : null);
  alertBox.replaceChildren(alert);
  setTimeout(() => {
    alert.classList.add('leaving');
    setTimeout(() => {
      alert.remove();
      setTimeout(next, ALERT_GAP_MS);
    }, 400);
  }, ALERT_BASE_MS + ALERT_PER_TIER_MS * tier);
}

// --- chat -------------------------------------------------------------------------------------------

function addChat(event) {
  const li = el('li', { class: 'overlay-chat-line', dataset: { eventId: event.eventId } },
    el('b', {}, (event.user && event.user.name) || '?'), ' ', el('span', {}, event.text));
  chatBox.append(li);
  capChildren(chatBox, CHAT_LINES);
  setTimeout(() => li.classList.add('leaving'), CHAT_LINE_MS);
  setTimeout(() => li.remove(), CHAT_LINE_MS + 1000);
}

new Room(handle, {
  token,
  onState: state => { body.dataset.room = state; },
  onNotice: text => console.info('ovation overlay:', text),
  onEvent: (event, { history }) => {
    if (history) return; // the backlog at start: old gifts are not alerted again
    if (event.type === 'gift') enqueue(event);
    else if (event.type === 'chat' && showChat) addChat(event);
    else if (event.type === 'moderation' && event.action === 'delete') {
      const gone = chatBox.querySelector(`[data-event-id="${Number(event.deletedEventId)}"]`);
      if (gone) gone.remove();
    }
  },
}).start();
