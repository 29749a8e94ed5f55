// "Buy coins" on the watch page in headless Chromium, against an Ovation whose Stripe is a local double:
// the viewer opens the packs, picks one, and the browser goes to the Checkout URL that POST /api/purchases
// returned. The script then prints {"checkoutUrl": …} and waits for a line on stdin (the driving test pays
// the session and delivers the signed webhooks), comes back to the watch page and waits for the coins.
// usage: node buy-coins.mjs '{"base":"http://127.0.0.1:PORT","handle":"h","token":"…","pack":"coins-550",
//          "expectCoins":550,"artifacts":"/dir"}'
// Prints JSON lines; the last is {ok, checks:[…]}; exits 0 only when every check passed.
import { launchChromium } from './chromium.mjs';
import path from 'node:path';
import readline from 'node:readline';

const cfg = JSON.parse(process.argv[2] || '{}');
const TIMEOUT = 45000;
const checks = [];
const check = (name, ok, detail) => checks.push({ name, ok: !!ok, detail: detail === undefined ? null : detail });
const stdinLines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const errors = [];
  page.on('pageerror', e => errors.push(e.message));
  // Stripe's hosted page, as far as this browser is concerned.
  await context.route('https://checkout.stripe.test/**', route => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Checkout</title><p>Stripe Checkout (test double)</p>' }));

  const liveUrl = `${cfg.base}/live/${cfg.handle}`;
  await page.goto(`${liveUrl}#token=${cfg.token}`);
  await page.waitForFunction(() => !document.getElementById('buy-coins').disabled);
  await page.click('#buy-coins');
  await page.waitForSelector(`#coin-packs button[data-pack="${cfg.pack}"]`, { state: 'visible' });
  const packs = await page.$$eval('#coin-packs button', bs => bs.map(b => b.textContent));
  check('the packs are listed with prices', packs.length > 1 && packs.every(t => /coins · \S+/.test(t)), packs);
  await page.screenshot({ path: path.join(cfg.artifacts, 'watch-page-buy-coins.png') });
  const balanceBefore = await page.$eval('#balance', e => e.dataset.coins);

  await page.click(`#coin-packs button[data-pack="${cfg.pack}"]`);
  await page.waitForURL(u => u.href.startsWith('https://checkout.stripe.test/'));
  const checkoutUrl = page.url();
  check('a pack goes to the Stripe Checkout page', true, checkoutUrl);
  console.log(JSON.stringify({ checkoutUrl }));

  const paid = await stdinLines.next();
  check('the test paid the session', !paid.done && paid.value.trim() === 'paid', paid.value);
  // back from Checkout to payments.success-url, as Stripe sends the viewer; the token is still in this tab's sessionStorage
  await page.goto(`${cfg.base}/purchase/success`);
  await page.waitForFunction(c => (document.getElementById('purchase-balance') || {}).textContent === `Your balance: ${c} coins`, cfg.expectCoins);
  check('the purchase result page shows the new balance', true, cfg.expectCoins);
  await page.screenshot({ path: path.join(cfg.artifacts, 'purchase-success.png') });
  const backHref = await page.$eval('#purchase-back', a => a.getAttribute('href'));
  check('the result page links back to the channel', backHref === `/live/${cfg.handle}`, backHref);
  await Promise.all([page.waitForURL(u => u.pathname === `/live/${cfg.handle}`), page.click('#purchase-back')]);
  await page.waitForFunction(c => { const b = document.getElementById('balance'); return b && b.dataset.coins === String(c); }, cfg.expectCoins);
  check('back on the watch page the bought coins are shown', true, { before: balanceBefore, after: cfg.expectCoins });
  check('no uncaught errors in the page', errors.length === 0, errors);
} catch (e) {
  check('the run', false, String(e && e.message || e).split('\n')[0]);
} finally {
  await browser.close();
}
const ok = checks.length > 0 && checks.every(c => c.ok);
console.log(JSON.stringify({ ok, checks }));
process.exit(ok ? 0 : 1);
