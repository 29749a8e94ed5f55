// The watch page and the OBS overlay in headless Chromium (playwright-core), against a running Ovation with
// a live stream: playback renders frames and time advances, a chat sent in one browser context is seen in
// another (and in the overlay), a gift sent from the page debits the balance shown, is shown on the sender's
// page in sync with the video and as an alert in the overlay, a gift the wallet cannot pay shows an error and
// changes nothing; a cut WebSocket reconnects and resumes; offline, unknown-channel, read-only and phone layouts;
// an offline page starts playing when the channel goes live (this script publishes to it with ffmpeg) and goes
// back to offline when the stream ends. Screenshots go to the artifacts dir.
// usage: node watch-page.mjs '{"base":"http://127.0.0.1:PORT","handle":"h","richToken":"…","poorToken":"…",
//          "overlayToken":"…","offlineHandle":"h2","offlineKey":"<its stream key>","rtmpUrl":"rtmp://127.0.0.1:PORT/live",
//          "artifacts":"/dir"}'
// Prints one JSON line {ok, checks:[{name, ok, detail}], pageErrors:[…], richBalanceShown, poorBalanceShown}
// and exits 0 only when every check passed. Every wait is for a condition, with generous timeouts (2-core machines).
import { launchChromium } from './chromium.mjs';
import path from 'node:path';
import { spawn } from 'node:child_process';

const cfg = JSON.parse(process.argv[2] || '{}');
const T = { player: 90000, step: 45000 };
const checks = [];
const pageErrors = [];
const result = { ok: false, checks, pageErrors };

function check(name, ok, detail) {
  checks.push({ name, ok: !!ok, detail: detail === undefined ? null : detail });
  if (!ok) console.error(`FAILED: ${name} ${detail === undefined ? '' : JSON.stringify(detail)}`);
}

/** Runs fn; a timeout or other failure becomes a failed check instead of ending the run. */
async function step(name, fn) {
  try {
    const detail = await fn();
    check(name, true, detail);
    return true;
  } catch (e) {
    check(name, false, String(e && e.message || e).split('\n')[0]);
    return false;
  }
}

const shot = (page, name, options = {}) => page.screenshot({ path: path.join(cfg.artifacts, name), ...options }).catch(e => console.error(`screenshot ${name}: ${e.message}`));

const browser = await launchChromium();

async function open(url, contextOptions = {}, beforeLoad = async () => {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
  const page = await context.newPage();
  page.setDefaultTimeout(T.step);
  page.on('pageerror', e => pageErrors.push(`${url.split('#')[0].split('?')[0]}: ${e.message}`));
  page.on('console', m => { if (m.type() === 'error') console.error(`[console ${url.split('#')[0]}] ${m.text()}`); });
  await beforeLoad(page);
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  return page;
}

const roomReady = page => page.waitForFunction(() => document.body.dataset.room === 'ready', null, { timeout: T.step });
const shownBalance = page => page.$eval('#balance', e => e.dataset.coins === '' ? null : Number(e.dataset.coins));

try {
  const liveUrl = `${cfg.base}/live/${cfg.handle}`;

  // --- 1. the rich viewer watches ------------------------------------------------------------------------
  const rich = await open(`${liveUrl}#token=${cfg.richToken}`);
  await step('token leaves the address bar and stays in sessionStorage', async () => {
    const { hash, stored } = await rich.evaluate(() => ({ hash: location.hash, stored: sessionStorage.getItem('ovation.token') }));
    if (hash.includes('token') || stored !== cfg.richToken) throw new Error(`hash=${hash} stored=${!!stored}`);
  });
  await step('the player renders frames and time advances', async () => {
    await rich.waitForFunction(() => {
      const v = document.getElementById('player');
      return document.body.dataset.player === 'playing' && v.readyState >= 2 && v.videoWidth > 0 && v.currentTime > 0;
    }, null, { timeout: T.player });
    const t0 = await rich.$eval('#player', v => v.currentTime);
    await rich.waitForFunction(t => document.getElementById('player').currentTime > t + 2, t0, { timeout: T.step });
    const frame = await rich.evaluate(() => {
      const v = document.getElementById('player');
      const c = document.createElement('canvas');
      c.width = 160;
      c.height = 90;
      const g = c.getContext('2d', { willReadFrequently: true });
      g.drawImage(v, 0, 0, c.width, c.height);
      const px = g.getImageData(0, 0, c.width, c.height).data;
      let sum = 0, sum2 = 0;
      const colours = new Set();
      for (let i = 0; i < px.length; i += 4) {
        const y = 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
        sum += y;
        sum2 += y * y;
        colours.add((px[i] >> 5) << 6 | (px[i + 1] >> 5) << 3 | (px[i + 2] >> 5));
      }
      const n = px.length / 4;
      return { lumaStdDev: Math.sqrt(sum2 / n - (sum / n) ** 2), colours: colours.size, width: v.videoWidth, height: v.videoHeight };
    });
    if (!(frame.lumaStdDev > 10 && frame.colours > 8)) throw new Error(`blank frame? ${JSON.stringify(frame)}`);
    return { ...frame, advancedFrom: t0 };
  });
  await step('balance and gift buttons', async () => {
    await roomReady(rich);
    await rich.waitForFunction(() => document.getElementById('balance').dataset.coins !== '' && !document.querySelector('#gift-buttons button[data-gift="rose"]').disabled);
    return { balance: await shownBalance(rich), gifts: await rich.$$eval('#gift-buttons button', bs => bs.map(b => b.dataset.gift)) };
  });
  await step('buy coins is disabled with a message when purchases are off', async () => {
    await rich.waitForFunction(() => document.getElementById('buy-note'), null, { timeout: T.step });
    const note = await rich.$eval('#buy-note', e => e.textContent);
    const disabled = await rich.$eval('#buy-coins', b => b.disabled);
    if (!disabled || !/not available/i.test(note)) throw new Error(JSON.stringify({ note, disabled }));
    return note;
  });
  await shot(rich, 'watch-page.png');

  // --- 2. a second viewer (few coins) and the overlay --------------------------------------------------
  // The second viewer's WebSocket goes through Playwright's router, so the test can cut it and keep the
  // server "away" for a while (every new connection is closed at once) to see the page reconnect and resume.
  const net = { down: false, socket: null };
  const poor = await open(`${liveUrl}#token=${cfg.poorToken}`, {}, page => page.routeWebSocket(/\/ws$/, ws => {
    if (net.down) {
      ws.close({ code: 1011, reason: 'test: the server is away' });
      return;
    }
    ws.connectToServer();
    net.socket = ws;
  }));
  const overlay = await open(`${cfg.base}/overlay/${cfg.handle}?token=${cfg.overlayToken}&chat=1`, { viewport: { width: 1280, height: 720 } });
  await step('second viewer and overlay join the room', async () => {
    await roomReady(poor);
    await roomReady(overlay);
    await poor.waitForFunction(() => !document.getElementById('chat-input').disabled);
  });
  await step('the overlay is transparent', async () => {
    // Watch the alert box from now on: how many alerts are on screen at once, and in which order they come.
    await overlay.evaluate(() => {
      window.alertLog = { max: 0, shown: [] };
      const box = document.getElementById('alert');
      new MutationObserver(() => {
        const alerts = box.querySelectorAll('.gift-alert');
        window.alertLog.max = Math.max(window.alertLog.max, alerts.length);
        for (const a of alerts) {
          if (!window.alertLog.shown.some(s => s.eventId === a.dataset.eventId)) window.alertLog.shown.push({ ...a.dataset, tier: a.className, text: a.textContent });
        }
      }).observe(box, { childList: true, subtree: true });
    });
    const bg = await overlay.evaluate(() => [getComputedStyle(document.documentElement).backgroundColor, getComputedStyle(document.body).backgroundColor]);
    if (!bg.every(c => c === 'rgba(0, 0, 0, 0)' || c === 'transparent')) throw new Error(JSON.stringify(bg));
    return bg;
  });

  // --- 3. chat across contexts ---------------------------------------------------------------------------
  const text = `hello from the rich viewer ${Date.now().toString(36)}`;
  await step('a chat sent in one context is seen in another and in the overlay', async () => {
    await rich.fill('#chat-input', text);
    await rich.click('#chat-send');
    await rich.waitForFunction(() => document.getElementById('chat-input').value === '');
    const seen = t => [...document.querySelectorAll('#chat-list .chat-line.chat .text, #overlay-chat li span')].some(e => e.textContent === t);
    await poor.waitForFunction(seen, text);
    await overlay.waitForFunction(seen, text);
  });
  await step('after a lost connection the page says so, reconnects and resumes the missed chat', async () => {
    net.down = true;
    net.socket.close({ code: 1006, reason: 'test: connection lost' });
    await poor.waitForFunction(() => document.body.dataset.room === 'reconnecting'
      && /reconnecting/i.test(document.getElementById('connection').textContent) && document.getElementById('chat-input').disabled);
    const missed = `said while you were away ${Date.now().toString(36)}`;
    await rich.fill('#chat-input', missed);
    await rich.click('#chat-send');
    await rich.waitForFunction(() => document.getElementById('chat-input').value === '');
    await rich.waitForFunction(t => [...document.querySelectorAll('#chat-list .chat-line.chat .text')].some(e => e.textContent === t), missed);
    net.down = false;
    await roomReady(poor);
    await poor.waitForFunction(t => [...document.querySelectorAll('#chat-list .chat-line.chat .text')].some(e => e.textContent === t), missed);
    const lines = await poor.$$eval('#chat-list .chat-line.chat .text', es => es.map(e => e.textContent));
    if (new Set(lines).size !== lines.length) throw new Error(`a line shown twice after the resume: ${JSON.stringify(lines)}`);
    return { connection: await poor.$eval('#connection', e => e.textContent), lines: lines.length };
  });
  await step('viewer count is shown', async () => {
    await poor.waitForFunction(() => /\d+ watching/.test(document.getElementById('viewers').textContent));
    return await poor.$eval('#viewers', e => e.textContent);
  });

  // --- 4. a gift: debit, sync, overlay ---------------------------------------------------------------
  const before = await shownBalance(rich);
  result.richBalanceBefore = before;
  await step('a gift from the page debits the balance shown', async () => {
    await rich.waitForFunction(() => document.body.dataset.player === 'playing', null, { timeout: T.player }); // for the sync check below
    await rich.click('#gift-buttons button[data-gift="rose"]');
    await rich.waitForFunction(b => Number(document.getElementById('balance').dataset.coins) === b - 5, before);
    return { before, after: await shownBalance(rich) };
  });
  await step('the gift is shown on the watch page when the video reaches its media time', async () => {
    // The gift's line in the chat carries how it was released (the animation itself fades away).
    const info = await rich.waitForFunction(() => {
      const line = document.querySelector('#chat-list .chat-line.gift[data-gift="rose"]');
      return line && { ...line.dataset };
    }, null, { timeout: T.step }).then(h => h.jsonValue());
    if (info.sync !== 'video') throw new Error(`shown without waiting for the video: ${JSON.stringify(info)}`);
    if (!(Number(info.pdtAtShow) >= Number(info.mediaTime))) throw new Error(`shown before its media time: ${JSON.stringify(info)}`);
    return { ...info, heldMillis: Number(info.shownAt) - Number(info.arrivedAt) };
  });
  await step('the other viewer sees the gift and the leaderboard', async () => {
    await poor.waitForFunction(() => [...document.querySelectorAll('#chat-list .chat-line.gift')].some(l => /Rose/.test(l.textContent)), null, { timeout: T.step });
    await poor.waitForFunction(() => [...document.querySelectorAll('#leaderboard li .coins')].some(c => /5/.test(c.textContent)));
    return await poor.$eval('#leaderboard', e => e.textContent);
  });
  await step('the overlay shows the gift alert', async () => {
    // An alert stays on screen 4 s; on a loaded machine the steps above can take longer than that, so this reads what
    // the observer saw on screen (with its text) rather than racing the alert's timer.
    const shown = await overlay.waitForFunction(() => window.alertLog.shown.find(s => s.gift === 'rose'), null, { timeout: T.step })
      .then(h => h.jsonValue());
    if (!/Ann/.test(shown.text) || !/Rose/i.test(shown.text)) throw new Error(`alert text: ${JSON.stringify(shown)}`);
    return shown;
  });
  await shot(overlay, 'overlay.png', { omitBackground: true });
  await shot(rich, 'watch-page-gift.png');
  await step('the overlay queues alerts and shows one at a time, sized by tier', async () => {
    const b0 = await shownBalance(rich);
    await rich.click('#gift-buttons button[data-gift="heart"]');
    await rich.waitForFunction(b => Number(document.getElementById('balance').dataset.coins) === b - 1, b0);
    await rich.click('#gift-buttons button[data-gift="star"]');
    await rich.waitForFunction(b => Number(document.getElementById('balance').dataset.coins) === b - 51, b0);
    await overlay.waitForFunction(() => !!document.querySelector('#alert .gift-alert.tier-2[data-gift="star"]'), null, { timeout: T.step });
    const log = await overlay.evaluate(() => window.alertLog);
    const order = log.shown.map(s => s.gift).join(',');
    if (log.max !== 1 || order !== 'rose,heart,star') throw new Error(JSON.stringify(log));
    if (!/tier-1/.test(log.shown[1].tier) || !/tier-2/.test(log.shown[2].tier)) throw new Error(JSON.stringify(log));
    return log;
  });
  await shot(overlay, 'overlay-tier2.png', { omitBackground: true });
  result.richBalanceShown = await shownBalance(rich);

  // --- 5. insufficient funds --------------------------------------------------------------------------
  const poorBefore = await shownBalance(poor);
  await step('a gift the wallet cannot pay shows an error and debits nothing', async () => {
    await poor.waitForFunction(() => !document.querySelector('#gift-buttons button[data-gift="star"]').disabled);
    await poor.click('#gift-buttons button[data-gift="star"]');
    await poor.waitForFunction(() => /not enough coins/i.test(document.getElementById('message').textContent));
    const after = await shownBalance(poor);
    if (after !== poorBefore) throw new Error(`balance changed ${poorBefore} -> ${after}`);
    return { message: await poor.$eval('#message', e => e.textContent), balance: after };
  });
  result.poorBalanceShown = await shownBalance(poor);
  await shot(poor, 'watch-page-insufficient-funds.png');

  // --- 6. anonymous, phone, offline, unknown --------------------------------------------------------------
  const anon = await open(liveUrl);
  await step('without a token the page is read-only', async () => {
    await roomReady(anon);
    const state = await anon.evaluate(() => ({ input: document.getElementById('chat-input').disabled, note: document.getElementById('chat-note').textContent }));
    if (!state.input || !/read-only/i.test(state.note)) throw new Error(JSON.stringify(state));
    return state.note;
  });
  const phone = await open(`${liveUrl}#token=${cfg.poorToken}`, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await step('a phone-sized screen has one column and no sideways scrolling', async () => {
    await roomReady(phone);
    await phone.waitForFunction(() => document.body.dataset.player === 'playing', null, { timeout: T.player });
    const m = await phone.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, width: innerWidth,
      playerWidth: document.querySelector('.player-box').getBoundingClientRect().width,
      chatTop: document.querySelector('.chat-panel').getBoundingClientRect().top, playerBottom: document.querySelector('.player-box').getBoundingClientRect().bottom }));
    if (m.scrollWidth > m.width || m.playerWidth < m.width - 2 || m.chatTop < m.playerBottom) throw new Error(JSON.stringify(m));
    return m;
  });
  await shot(phone, 'watch-page-phone.png', { fullPage: true });
  const offline = await open(`${cfg.base}/live/${cfg.offlineHandle}`);
  await step('an offline channel says so', async () => {
    await offline.waitForFunction(() => document.body.dataset.player === 'offline');
    return await offline.$eval('#player-state', e => e.textContent);
  });
  await shot(offline, 'watch-page-offline.png');
  const missing = await open(`${cfg.base}/live/no_such_channel_here`);
  await step('an unknown channel says so', async () => {
    await missing.waitForFunction(() => document.body.dataset.player === 'missing');
    return await missing.$eval('#player-state', e => e.textContent);
  });

  await step('an offline page starts playing when the channel goes live, and says offline when the stream ends', async () => {
    for (const p of [rich, poor, overlay, anon, phone, missing]) await p.context().close(); // spare the CPU
    const ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000',
      '-t', '120', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-f', 'flv', `${cfg.rtmpUrl}/${cfg.offlineKey}`], { stdio: 'ignore' });
    const t0 = Date.now();
    let playingAfter;
    try {
      await offline.waitForFunction(() => document.body.dataset.player === 'playing', null, { timeout: T.player });
      playingAfter = Date.now() - t0;
      await shot(offline, 'watch-page-went-live.png');
    } finally {
      ffmpeg.kill('SIGTERM');
    }
    const t1 = Date.now();
    await offline.waitForFunction(() => document.body.dataset.player === 'offline', null, { timeout: 120000 });
    return { playingAfterMillis: playingAfter, offlineAfterMillis: Date.now() - t1 };
  });

  check('no uncaught errors in the pages', pageErrors.length === 0, pageErrors);
} catch (e) {
  check('the run', false, String(e && e.stack || e));
} finally {
  await browser.close();
}
result.ok = checks.length > 0 && checks.every(c => c.ok);
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
