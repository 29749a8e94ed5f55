// Drives the finance console (/admin/finance) in headless Chromium as a finance person would: signs in with
// the admin token, reads the trial balance, finds a reconciliation exception and downloads the CSV.
// usage: node finance-page.mjs ADMIN_BASE_URL ADMIN_TOKEN STRIPE_ID ARTIFACT_DIR
// Prints one JSON line: {ok, balanced, exceptionShown, exceptionRow, csvFile, csvHasException, statementRows, errors}.
import { launchChromium } from './chromium.mjs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const [base, token, stripeId, artifacts] = process.argv.slice(2);
if (!base || !token || !stripeId || !artifacts) {
  console.error('usage: node finance-page.mjs ADMIN_BASE_URL ADMIN_TOKEN STRIPE_ID ARTIFACT_DIR');
  process.exit(2);
}
const browser = await launchChromium();
const errors = [];
const result = { ok: false, errors };
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(60000);
  page.on('pageerror', e => errors.push(`pageerror: ${e.message}`));
  page.on('console', m => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  page.on('response', r => { if (r.status() >= 400) errors.push(`http ${r.status()} ${new URL(r.url()).pathname}`); });

  await page.goto(`${base}/admin/finance`);
  await page.fill('#token-input', token);
  await page.click('#signin-button');
  result.balanced = (await page.locator('#tb-balanced').textContent()).trim();
  await page.waitForSelector('#tb-lines tbody tr');
  await page.screenshot({ path: path.join(artifacts, 'finance-trial-balance.png'), fullPage: true });

  // statement browser: open the first account's statement from the trial balance
  await page.locator('#tb-lines button', { hasText: 'statement' }).first().click();
  await page.waitForSelector('#st-lines');
  result.statementRows = await page.locator('#st-lines tbody tr').count();

  await page.click('#tab-reconciliation');
  const row = page.locator('#rc-exceptions tbody tr', { hasText: stripeId });
  await row.waitFor({ timeout: 60000 });
  result.exceptionRow = (await row.innerText()).replace(/\s+/g, ' ').trim();
  result.exceptionShown = result.exceptionRow.includes('MISSING_IN_LEDGER');
  await page.screenshot({ path: path.join(artifacts, 'finance-reconciliation.png'), fullPage: true });

  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60000 }), page.click('#rc-csv')]);
  result.csvFile = path.join(artifacts, download.suggestedFilename());
  await download.saveAs(result.csvFile);
  const csv = await readFile(result.csvFile, 'utf8');
  result.csvHeader = csv.split(/\r?\n/)[0];
  result.csvHasException = csv.split(/\r?\n/).some(l => l.includes(stripeId) && l.startsWith('MISSING_IN_LEDGER'));

  await page.click('#tab-payouts');
  await page.waitForSelector('#po-out p, #po-lines');
  result.payoutsShown = true;

  result.ok = result.exceptionShown && result.csvHasException && result.statementRows > 0
    && !errors.some(e => e.startsWith('pageerror'));
} catch (e) {
  errors.push(`driver: ${e.message.split('\n')[0]}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
