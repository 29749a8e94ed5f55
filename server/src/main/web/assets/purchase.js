// Where Stripe Checkout sends the viewer back: /purchase/success or /purchase/cancel
// (payments.success-url / payments.cancel-url). Coins are credited by Stripe's webhook, not by this
// page, so on success it watches the wallet for a while and shows the balance when it changes.
import { el } from '/assets/dom.js';

const result = decodeURIComponent(location.pathname.split('/')[2] || '');
const app = document.getElementById('app');
const token = (() => { try { return sessionStorage.getItem('ovation.token'); } catch { return null; } })();
const back = (() => { try { return sessionStorage.getItem('ovation.lastChannel'); } catch { return null; } })();

const status = el('p', { id: 'purchase-status' });
const balance = el('p', { id: 'purchase-balance' });
const link = el('a', { href: back && back.startsWith('/live/') ? back : '/', id: 'purchase-back' }, 'Back to the stream');

async function wallet() {
  const response = await fetch('/api/wallet', { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`wallet: HTTP ${response.status}`);
  return response.json();
}

async function watchWallet() {
  let first = null;
  for (let i = 0; i < 30; i++) {
    try {
      const w = await wallet();
      balance.textContent = `Your balance: ${w.available} coins`;
      if (first === null) first = w.available;
      else if (w.available !== first) {
        status.textContent = 'Payment received: your coins are in your wallet.';
        return;
      }
    } catch (e) {
      balance.textContent = `Could not read your wallet (${e.message}).`;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  status.textContent = 'Payment received. Your coins arrive as soon as Stripe confirms it; this can take a minute.';
}

if (result === 'success') {
  app.append(el('h1', {}, 'Thank you!'), status, balance, link);
  status.textContent = 'Payment received; crediting your coins…';
  if (token) watchWallet(); else balance.textContent = 'Sign in on the watch page to see your balance.';
} else if (result === 'cancel') {
  app.append(el('h1', {}, 'Purchase cancelled'), el('p', {}, 'Nothing was charged.'), link);
} else {
  app.append(el('h1', {}, 'Unknown page'), link);
}
