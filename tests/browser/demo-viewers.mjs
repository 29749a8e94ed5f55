// A few scripted viewers for scripts/demo: each connects to /ws (protocol ovation.v1) with its viewer
// token, joins the room, and they chat and send gifts: a short opening burst, then (with "follow") one
// action every few seconds until the process is stopped.
// usage: node demo-viewers.mjs '{"ws":"ws://127.0.0.1:8080/ws","room":"demo","follow":true,
//                                "viewers":[{"name":"Ann","token":"<JWT>"}, ...]}'
import WebSocket from 'ws';
import { randomUUID } from 'node:crypto';

const config = JSON.parse(process.argv[2] || '{}');
if (!config.ws || !config.room || !Array.isArray(config.viewers) || config.viewers.length === 0) {
  console.error('usage: node demo-viewers.mjs \'{"ws":"ws://HOST:PORT/ws","room":"HANDLE","viewers":[{"name","token"}],"follow":true}\'');
  process.exit(2);
}
const REQUEST_TIMEOUT_MS = 20000;
const FOLLOW_EVERY_MS = 6000;

class Viewer {
  constructor({ name, token }) {
    this.name = name;
    this.token = token;
    this.nextId = 1;
    this.pending = new Map();
  }

  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${config.ws}?token=${encodeURIComponent(this.token)}`, 'ovation.v1');
      this.ws = ws;
      ws.on('open', async () => {
        try {
          await this.request({ type: 'join', room: config.room });
          resolve(this);
        } catch (e) {
          reject(e);
        }
      });
      ws.on('message', data => {
        let msg;
        try { msg = JSON.parse(String(data)); } catch { return; }
        const entry = msg.id != null && this.pending.get(String(msg.id));
        if (!entry) return;
        this.pending.delete(String(msg.id));
        clearTimeout(entry.timer);
        if (msg.type === 'ack') entry.resolve(msg); else entry.reject(Object.assign(new Error(msg.message), { code: msg.code }));
      });
      ws.on('error', err => reject(err));
      ws.on('close', code => {
        for (const entry of this.pending.values()) entry.reject(Object.assign(new Error(`closed ${code}`), { code: 'disconnected' }));
        this.pending.clear();
        if (!stopping) setTimeout(() => this.connect().catch(e => log(this.name, `reconnect failed: ${e.message}`)), 2000);
      });
    });
  }

  request(msg) {
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(Object.assign(new Error('no answer in time'), { code: 'timeout' }));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...msg, id }));
    });
  }

  async chat(text) {
    try {
      await this.request({ type: 'chat', room: config.room, text });
      log(this.name, `chat: ${text}`);
    } catch (e) {
      log(this.name, `chat refused: ${e.code} ${e.message}`);
    }
  }

  async gift(gift, count = 1) {
    try {
      const ack = await this.request({ type: 'gift', room: config.room, gift, count, idempotencyKey: randomUUID() });
      log(this.name, `gift ${gift} x${count}: ${ack.totalCoins} coins, balance ${ack.balance}`);
    } catch (e) {
      log(this.name, `gift ${gift} refused: ${e.code}`);
    }
  }
}

let stopping = false;
function log(who, what) {
  console.log(`[viewers] ${who}: ${what}`);
}
const sleep = ms => new Promise(r => setTimeout(r, ms));
const pick = list => list[Math.floor(Math.random() * list.length)];

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopping = true;
    process.exit(0);
  });
}

const viewers = await Promise.all(config.viewers.map(v => new Viewer(v).connect()));
const [a, b = a, c = b] = viewers;

// The opening: a little conversation and a few gifts of each size.
await a.chat('hi everyone 👋');
await sleep(700);
await b.chat('hello! first time here');
await sleep(700);
await a.gift('rose', 3);
await sleep(900);
await c.chat('that test pattern is mesmerising');
await sleep(900);
await b.gift('star');
await sleep(1200);
await a.gift('heart', 10);
await sleep(1200);
await b.gift('rocket');
await sleep(800);
await c.gift('galaxy'); // the demo gives this viewer too few coins: refused with insufficient_funds
log('demo', 'opening done');

const LINES = ['gg', 'love this stream', 'what is the bitrate?', 'hello from the demo', 'nice colours', '🔥🔥🔥', 'lol', 'another rose incoming'];
const GIFTS = ['heart', 'heart', 'rose', 'rose', 'star'];
if (config.follow) {
  for (;;) {
    await sleep(FOLLOW_EVERY_MS);
    const v = pick(viewers);
    if (Math.random() < 0.5) await v.chat(pick(LINES)); else await v.gift(pick(GIFTS), 1 + Math.floor(Math.random() * 3));
  }
} else {
  stopping = true;
  for (const v of viewers) v.ws.close(1000);
}
