// Finance console: /admin/finance on the admin port (docs/web.md, "Finance console").
// Asks for the admin token (kept in sessionStorage for this tab), sends it as a bearer token to the admin
// finance API (docs/api.md): trial balance, account statements, payouts, reconciliation, with CSV downloads
// fetched with the bearer header and saved as Blobs (a plain link cannot carry the header).
import {
  api, ApiError, describe, downloadWithToken, el, fill, formatInt, formatMinor, table, tokenForm, tokenStore,
} from '/assets/console-kit.js';

const KINDS = ['viewer_wallet', 'creator_earnings', 'creator_pending_earnings', 'platform_gift_revenue', 'stripe_clearing',
  'fees', 'coin_liability', 'coin_issuance', 'promo', 'receivable', 'payouts'];
const STATEMENT_PAGE = 100;

const app = document.getElementById('app');
const token = tokenStore('ovation.finance.token');

/** Digits after the point of a currency: 0 for coins, else what the browser knows of the ISO code (2 when unknown). */
function minorUnits(currency) {
  if (!currency || currency.toUpperCase() === 'COIN') return 0;
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

function amount(minor, currency) {
  if (minor === null || minor === undefined) return '—';
  return `${formatMinor(minor, minorUnits(currency))} ${currency}`;
}

function signedOut(error) {
  fill(app,
    el('header', { class: 'bar' }, el('h1', {}, 'Ovation Finance')),
    tokenForm({
      title: 'Admin sign-in',
      hint: 'Paste the admin token (admin.token, or data/admin-token on the server). It stays in this tab only '
        + 'and is sent as a bearer token to this admin port.',
      error,
      onToken: t => { token.set(t); start(); },
    }));
}

/** Runs an API call for a section; a 401 signs out, other errors show in the section. */
async function guarded(target, fn) {
  try {
    await fn();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      token.clear();
      signedOut('The admin token was refused: sign in again.');
      return;
    }
    const message = e instanceof ApiError && e.code === 'payments_not_configured'
      ? 'Payments are off on this server (stripe.secret-key and stripe.webhook-secret are empty).'
      : describe(e);
    fill(target, el('p', { class: 'error', role: 'alert' }, message));
  }
}

function csvButton(id, label, path, filename, status) {
  const b = el('button', { type: 'button', id, class: 'secondary' }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    status.textContent = 'Downloading...';
    try {
      const bytes = await downloadWithToken(path(), token.get(), filename());
      status.textContent = `Saved ${filename()} (${formatInt(bytes)} bytes).`;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        token.clear();
        return signedOut('The admin token was refused: sign in again.');
      }
      status.textContent = `Download failed: ${describe(e)}`;
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

/** "2026-11-23T10:00" (datetime-local, the browser's zone) -> ISO instant. */
function instantOf(local) {
  return new Date(local).toISOString();
}

function start() {
  if (!token.get()) return signedOut();
  const tabs = [
    ['trial-balance', 'Trial balance', trialBalanceSection],
    ['statements', 'Statements', statementSection],
    ['payouts', 'Payouts', payoutsSection],
    ['reconciliation', 'Reconciliation', reconciliationSection],
  ];
  const body = el('div', { id: 'finance-body' });
  const nav = el('nav', { class: 'tabs' });
  const open = (id, opts) => {
    for (const b of nav.children) b.classList.toggle('active', b.dataset.tab === id);
    const [, , section] = tabs.find(t => t[0] === id);
    fill(body, section(opts || {}));
    history.replaceState(null, '', `#${id}`);
  };
  tabs.forEach(([id, label]) => nav.append(el('button', {
    type: 'button', id: `tab-${id}`, dataset: { tab: id }, onclick: () => open(id),
  }, label)));
  fill(app,
    el('header', { class: 'bar' }, el('h1', {}, 'Ovation Finance'),
      el('button', { type: 'button', class: 'link', onclick: () => { token.clear(); signedOut(); } }, 'Sign out')),
    nav, body);
  app.openTab = open;
  const initial = location.hash.slice(1);
  open(tabs.some(t => t[0] === initial) ? initial : 'trial-balance');
}

// ---- trial balance

function trialBalanceSection() {
  // empty = now (the server's default): a datetime-local value has whole minutes, and the start of this minute
  // would leave out what was posted since
  const asOf = el('input', { type: 'datetime-local', id: 'tb-as-of', title: 'empty: now' });
  const out = el('div', { id: 'tb-out' });
  const status = el('p', { class: 'muted', role: 'status' });
  const query = () => (asOf.value ? `?asOf=${encodeURIComponent(instantOf(asOf.value))}` : '');
  const load = () => guarded(out, async () => {
    fill(out, el('p', { class: 'muted' }, 'Loading...'));
    const tb = await api(`/admin/finance/trial-balance${query()}`, { token: token.get() });
    const currencies = Object.keys(tb.debitTotals || {}).sort();
    fill(out,
      el('p', { id: 'tb-balanced', class: tb.balanced ? 'ok' : 'error' },
        tb.balanced ? `Balanced as of ${tb.asOf}` : `NOT balanced as of ${tb.asOf}: investigate before closing the period`),
      table([
        { label: 'Currency', get: c => c },
        { label: 'Debits', get: c => amount(tb.debitTotals[c], c), num: true },
        { label: 'Credits', get: c => amount(tb.creditTotals[c], c), num: true },
      ], currencies, { empty: 'No postings yet.', id: 'tb-totals' }),
      el('h3', {}, 'Accounts'),
      table([
        { label: 'Kind', get: l => l.kind.toLowerCase() },
        { label: 'Owner', get: l => l.owner },
        { label: 'Currency', get: l => l.currency },
        { label: 'Debit', get: l => (l.debit ? amount(l.debit, l.currency) : ''), num: true },
        { label: 'Credit', get: l => (l.credit ? amount(l.credit, l.currency) : ''), num: true },
        { label: '', get: l => el('button', { type: 'button', class: 'link', onclick: () => app.openTab('statements',
          { kind: l.kind.toLowerCase(), owner: l.owner, currency: l.currency }) }, 'statement') },
      ], tb.lines, { empty: 'No accounts yet.', id: 'tb-lines' }));
  });
  const section = el('section', { class: 'card' },
    el('h2', {}, 'Trial balance'),
    el('div', { class: 'row' }, el('label', {}, 'As of ', asOf), el('span', { class: 'muted small' }, '(empty: now)'),
      el('button', { type: 'button', id: 'tb-load', onclick: load }, 'Show'),
      csvButton('tb-csv', 'Download CSV', () => `/admin/finance/trial-balance${query()}${query() ? '&' : '?'}format=csv`,
        () => 'trial-balance.csv', status)),
    status, out);
  load();
  return section;
}

// ---- statements

function statementSection({ kind = 'viewer_wallet', owner = '', currency = 'COIN' }) {
  const kindSelect = el('select', { id: 'st-kind' }, KINDS.map(k => el('option', { value: k, selected: k === kind }, k)));
  const ownerInput = el('input', { type: 'text', id: 'st-owner', value: owner, placeholder: 'user id, creator id or platform', maxlength: 128 });
  const currencyInput = el('input', { type: 'text', id: 'st-currency', value: currency, size: 5, maxlength: 4 });
  const out = el('div', { id: 'st-out' });
  let after = 0;
  const account = () => `${encodeURIComponent(kindSelect.value)}/${encodeURIComponent(ownerInput.value.trim())}/${encodeURIComponent(currencyInput.value.trim().toUpperCase())}`;
  const load = (from = 0) => guarded(out, async () => {
    if (!ownerInput.value.trim()) {
      fill(out, el('p', { class: 'muted' }, 'Enter the account owner (pick one from the trial balance with "statement").'));
      return;
    }
    after = from;
    const cur = currencyInput.value.trim().toUpperCase();
    const page = await api(`/admin/ledger/accounts/${account()}/statement?after=${after}&limit=${STATEMENT_PAGE}`, { token: token.get() });
    fill(out,
      el('p', { class: 'muted' }, `Account ${page.account}, postings after #${after}:`),
      table([
        { label: '#', get: l => l.entryNo, num: true },
        { label: 'Posted', get: l => l.postedAt },
        { label: 'Type', get: l => l.type },
        { label: 'Tx', get: l => l.transactionId, num: true },
        { label: 'Debit', get: l => (l.side === 'DEBIT' ? amount(l.amount, cur) : ''), num: true },
        { label: 'Credit', get: l => (l.side === 'CREDIT' ? amount(l.amount, cur) : ''), num: true },
        { label: 'Balance', get: l => amount(l.balanceAfter, cur), num: true },
        { label: 'Key / metadata', get: l => el('span', { class: 'small' }, l.idempotencyKey,
          Object.keys(l.metadata || {}).length ? ` ${JSON.stringify(l.metadata)}` : '') },
      ], page.lines, { empty: 'No postings on this account.', id: 'st-lines' }),
      el('div', { class: 'row' },
        after > 0 ? el('button', { type: 'button', class: 'secondary', onclick: () => load(0) }, 'First page') : null,
        page.next !== null && page.next !== undefined
          ? el('button', { type: 'button', id: 'st-next', onclick: () => load(page.next) }, 'Next page') : null));
  });
  const section = el('section', { class: 'card' },
    el('h2', {}, 'Account statement'),
    el('div', { class: 'row' },
      el('label', {}, 'Kind ', kindSelect), el('label', {}, 'Owner ', ownerInput), el('label', {}, 'Currency ', currencyInput),
      el('button', { type: 'button', id: 'st-load', onclick: () => load(0) }, 'Show')),
    out);
  load(0);
  return section;
}

// ---- payouts

function payoutsSection() {
  const out = el('div', { id: 'po-out' });
  const status = el('p', { class: 'muted', role: 'status' });
  const runId = el('input', { type: 'text', id: 'po-run-id', value: new Date().toISOString().slice(0, 10), maxlength: 64 });
  const render = (report, title) => fill(out,
    el('h3', {}, title),
    table([
      { label: 'Run', get: l => l.runId },
      { label: 'Creator', get: l => l.creatorId },
      { label: 'Account', get: l => l.accountId },
      { label: 'Coins', get: l => formatInt(l.coins), num: true },
      { label: 'Amount', get: l => amount(l.fiatMinor, l.currency), num: true },
      { label: 'State', get: l => el('span', { class: `state ${String(l.state).toLowerCase()}` }, l.state) },
      { label: 'Transfer', get: l => l.transferId || '' },
      { label: 'Ledger tx', get: l => l.ledgerTransactionId ?? '' },
      { label: 'Error', get: l => l.error || '' },
    ], report.lines, { empty: 'No payouts yet.', id: 'po-lines' }));
  const load = () => guarded(out, async () => render(await api('/admin/payouts', { token: token.get() }), 'History'));
  const run = () => guarded(out, async () => {
    if (!confirm(`Start payout run "${runId.value}"? Every creator above the threshold is paid through Stripe Connect `
      + '(running the same run id again pays nobody twice).')) return;
    render(await api('/admin/payouts/runs', { token: token.get(), method: 'POST', body: { runId: runId.value.trim() } }),
      `Run ${runId.value}`);
  });
  const section = el('section', { class: 'card' },
    el('h2', {}, 'Payouts'),
    el('div', { class: 'row' },
      el('button', { type: 'button', id: 'po-load', onclick: load }, 'History'),
      csvButton('po-csv', 'Download CSV', () => '/admin/payouts?format=csv', () => 'payouts.csv', status),
      el('label', {}, 'Run id ', runId),
      el('button', { type: 'button', id: 'po-run', class: 'danger', onclick: run }, 'Run payouts')),
    status, out);
  load();
  return section;
}

// ---- reconciliation

function reconciliationSection() {
  // empty fields take the server's defaults (to = now, from = a day before to), so a page left open stays current
  const from = el('input', { type: 'datetime-local', id: 'rc-from', title: 'empty: a day before "to"' });
  const to = el('input', { type: 'datetime-local', id: 'rc-to', title: 'empty: now' });
  const out = el('div', { id: 'rc-out' });
  const status = el('p', { class: 'muted', role: 'status' });
  const query = () => {
    const q = new URLSearchParams();
    if (from.value) q.set('from', instantOf(from.value));
    if (to.value) q.set('to', instantOf(to.value));
    return q.toString();
  };
  const csvName = () => `reconciliation-${from.value ? from.value.slice(0, 10) : 'last-day'}${to.value ? `-${to.value.slice(0, 10)}` : ''}.csv`;
  const load = () => guarded(out, async () => {
    fill(out, el('p', { class: 'muted' }, 'Comparing the ledger with Stripe...'));
    const r = await api(`/admin/finance/reconciliation?${query()}`, { token: token.get() });
    if (!from.value && !to.value) status.textContent = `Range: ${r.from} to ${r.to} (the last day).`;
    const categories = Object.keys(r.totals || {}).sort();
    fill(out,
      el('p', { id: 'rc-summary', class: r.exceptions.length ? 'error' : 'ok' },
        r.exceptions.length
          ? `${r.exceptions.length} exception(s) in ${formatInt(r.lines)} balance transactions, ${r.from} to ${r.to}`
          : `No exceptions: ${formatInt(r.lines)} balance transactions matched, ${r.from} to ${r.to}`),
      el('h3', {}, 'Exceptions'),
      table([
        { label: 'Status', get: l => el('span', { class: `state ${l.status.toLowerCase()}` }, l.status) },
        { label: 'Category', get: l => l.category },
        { label: 'Stripe id', get: l => el('code', {}, l.stripeId) },
        { label: 'Source', get: l => l.sourceId || '' },
        { label: 'Ledger tx', get: l => l.ledgerTransactionId ?? '' },
        { label: 'Stripe net', get: l => amount(l.stripeNetMinor, l.currency), num: true },
        { label: 'Ledger net', get: l => amount(l.ledgerNetMinor, l.currency), num: true },
        { label: 'Created', get: l => new Date(l.createdEpochSeconds * 1000).toISOString() },
      ], r.exceptions, { empty: 'None.', id: 'rc-exceptions' }),
      el('h3', {}, 'Totals by category'),
      table([
        { label: 'Category', get: c => c },
        { label: 'Matched', get: c => r.totals[c].matched, num: true },
        { label: 'Missing in ledger', get: c => r.totals[c].missingInLedger, num: true },
        { label: 'Missing in Stripe', get: c => r.totals[c].missingInStripe, num: true },
        { label: 'Amount mismatch', get: c => r.totals[c].amountMismatch, num: true },
        { label: 'Stripe net (minor)', get: c => formatInt(r.totals[c].stripeNetMinor), num: true },
        { label: 'Ledger net (minor)', get: c => formatInt(r.totals[c].ledgerNetMinor), num: true },
      ], categories, { empty: 'No balance transactions in this range.', id: 'rc-totals' }));
  });
  const section = el('section', { class: 'card' },
    el('h2', {}, 'Reconciliation'),
    el('p', { class: 'muted' }, 'Stripe balance transactions created in [from, to) against the ledger bookings.'),
    el('div', { class: 'row' },
      el('label', {}, 'From ', from), el('label', {}, 'To ', to), el('span', { class: 'muted small' }, '(empty: the last day)'),
      el('button', { type: 'button', id: 'rc-load', onclick: load }, 'Reconcile'),
      csvButton('rc-csv', 'Download CSV', () => `/admin/finance/reconciliation?${query()}${query() ? '&' : ''}format=csv`,
        csvName, status)),
    status, out);
  load();
  return section;
}

start();
