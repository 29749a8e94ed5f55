// Drives the creator studio (/studio) in headless Chromium while a stream is live, as a creator would.
// usage: node studio-page.mjs BASE_URL PLATFORM_TOKEN SCREENSHOT.png
// Prints one JSON line: {ok, handle, obsServer, health:{bitrateKbps,fps,keyframeIntervalMillis,...}, moderation,
// moderatorListed, moderatorAdded, moderatorRemoved, newKeyShown, tokenKept, errors} and exits 0 only when the page showed a live stream's health.
import { launchChromium } from './chromium.mjs';

const [base, token, screenshot] = process.argv.slice(2);
if (!base || !token) {
  console.error('usage: node studio-page.mjs BASE_URL PLATFORM_TOKEN [SCREENSHOT.png]');
  process.exit(2);
}
const browser = await launchChromium();
const errors = [];
const result = { ok: false, errors };
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(60000);
  page.on('pageerror', e => errors.push(`pageerror: ${e.message}`));
  page.on('console', m => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('response', r => { if (r.status() >= 400) errors.push(`http ${r.status()} ${new URL(r.url()).pathname}`); });

  await page.goto(`${base}/studio#token=${encodeURIComponent(token)}`);
  result.handle = (await page.locator('#handle').textContent({ timeout: 60000 })).trim();
  result.fragmentCleared = await page.evaluate(() => location.hash === '');
  result.obsServer = (await page.locator('#obs-server').textContent()).trim();

  // the health panel refreshes every few seconds: wait for a live stream's figures
  await page.waitForFunction(() => {
    const card = document.getElementById('health');
    return card && Number(card.dataset.bitrateKbps) > 0 && Number(card.dataset.fps) > 0
      && Number(card.dataset.keyframeIntervalMillis) > 0;
  }, null, { timeout: 90000, polling: 500 });
  result.health = await page.evaluate(() => {
    const text = id => (document.getElementById(id) || {}).textContent || null;
    const card = document.getElementById('health');
    return {
      state: text('health-state'), bitrateKbps: Number(card.dataset.bitrateKbps), fps: Number(card.dataset.fps),
      keyframeIntervalMillis: Number(card.dataset.keyframeIntervalMillis), bitrateText: text('health-bitrate'),
      fpsText: text('health-fps'), keyframeText: text('health-keyframe'), codec: text('health-codec'),
      resolution: text('health-resolution'), uptime: text('health-uptime'), viewers: text('health-viewers'),
    };
  });
  await page.waitForFunction(() => (document.getElementById('earnings') || {}).textContent?.includes('Payable'));
  result.earningsShown = true;

  // moderation: the creator sets slow mode through the WebSocket's moderate message
  await page.waitForFunction(() => document.getElementById('mod-connection')?.textContent === 'connected', null, { timeout: 30000 });
  await page.fill('#slow-seconds', '5');
  await page.click('#slow-on');
  await page.waitForFunction(() => {
    const t = document.getElementById('mod-result')?.textContent || '';
    return t && t !== 'Sending...';
  }, null, { timeout: 30000 });
  result.moderation = (await page.locator('#mod-result').textContent()).trim();

  // appointed moderators: add one, see it listed, remove it again
  await page.waitForFunction(() => document.getElementById('moderators')?.dataset.count === '0');
  await page.fill('#moderator-user', 'mod-mia');
  await page.click('#add-moderator');
  await page.waitForFunction(() => document.getElementById('moderators')?.dataset.count === '1');
  result.moderatorListed = (await page.locator('#moderators-table').textContent()).includes('mod-mia');
  result.moderatorAdded = (await page.locator('#moderators-result').textContent()).trim();
  await page.click('#moderators-table button[data-user="mod-mia"]');
  await page.waitForFunction(() => document.getElementById('moderators')?.dataset.count === '0');
  result.moderatorRemoved = (await page.locator('#moderators-result').textContent()).trim();

  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });

  // reveal (= issue) a new stream key, confirming the dialog
  page.once('dialog', d => d.accept());
  await page.click('#rotate-key');
  result.newKey = (await page.locator('#stream-key').textContent({ timeout: 30000 })).trim();
  result.newKeyShown = result.newKey.startsWith('live_');

  // the sign-in is kept for the tab (sessionStorage), not in the address
  await page.reload();
  result.tokenKept = (await page.locator('#handle').textContent({ timeout: 60000 })).trim() === result.handle;

  // a phone-sized screen: one column, nothing wider than the screen
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForSelector('#health-state');
  result.phoneOverflowPx = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (screenshot) await page.screenshot({ path: screenshot.replace(/\.png$/, '-phone.png'), fullPage: true });
  result.ok = result.health.bitrateKbps > 0 && result.health.fps > 0 && result.health.keyframeIntervalMillis > 0
    && result.newKeyShown && result.tokenKept && result.phoneOverflowPx <= 0 && !errors.some(e => e.startsWith('pageerror'));
} catch (e) {
  errors.push(`driver: ${e.message.split('\n')[0]}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
