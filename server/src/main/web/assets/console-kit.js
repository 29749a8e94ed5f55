// Small helpers shared by the studio (/studio) and the finance console (/admin/finance).
// Plain ES module, no dependency. Every text goes in through textContent (never innerHTML), so data
// from the server cannot inject markup; the pages run under script-src 'self' (no inline handlers).

/** Creates an element: el('button', {class: 'x', onclick: fn, dataset: {a: 1}}, 'text', child, ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'class') node.className = v;
    else if (k in node && typeof v !== 'string') node[k] = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** Replaces an element's children. */
export function fill(node, ...children) {
  node.replaceChildren();
  for (const c of children.flat()) {
    if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/**
 * A token kept for this tab only (sessionStorage). A "#token=..." fragment wins and is removed from the
 * address bar at once (fragments are never sent to the server, and this keeps it out of history and screenshots).
 */
export function tokenStore(key) {
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromFragment) {
    sessionStorage.setItem(key, fromFragment.trim());
    history.replaceState(null, '', location.pathname + location.search);
  }
  return {
    get: () => sessionStorage.getItem(key) || '',
    set: value => sessionStorage.setItem(key, value.trim()),
    clear: () => sessionStorage.removeItem(key),
  };
}

/** An answer of the API that is not 2xx: status, the stable code and the message of docs/api.md. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || `http_${status}`;
  }
}

/** Calls the API with the bearer token; resolves with the JSON body or rejects with an ApiError. */
export async function api(path, { token, method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network_error', `cannot reach the server (${e.message})`);
  }
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    const err = json && json.error ? json.error : {};
    throw new ApiError(res.status, err.code, err.message || text.slice(0, 200));
  }
  return json;
}

/**
 * Downloads a CSV that needs the bearer header: a link cannot carry it, so fetch it, then save the Blob
 * through a temporary object URL.
 */
export async function downloadWithToken(path, token, filename) {
  let res;
  try {
    res = await fetch(path, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/csv' }, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network_error', `cannot reach the server (${e.message})`);
  }
  if (!res.ok) {
    let err = {};
    try { err = (await res.json()).error || {}; } catch { /* not JSON */ }
    throw new ApiError(res.status, err.code, err.message);
  }
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return blob.size;
}

/** Copies text to the clipboard; falls back to a selected textarea where the Clipboard API is unavailable (plain http). */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch { /* fall back */ }
  }
  const area = el('textarea', { readonly: true, class: 'offscreen' });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  area.remove();
  return ok;
}

/** A "Copy" button for the value that get() returns at click time. */
export function copyButton(get, label = 'Copy') {
  const button = el('button', { type: 'button', class: 'copy' }, label);
  button.addEventListener('click', async () => {
    const ok = await copyText(typeof get === 'function' ? get() : String(get));
    button.textContent = ok ? 'Copied' : 'Select and copy';
    setTimeout(() => { button.textContent = label; }, 1500);
  });
  return button;
}

/** Integer minor units as a decimal string (no floating point near money): 12345, 2 -> "123.45". */
export function formatMinor(amount, minorUnits = 2) {
  const n = BigInt(amount);
  const negative = n < 0n;
  const abs = negative ? -n : n;
  if (minorUnits === 0) return (negative ? '-' : '') + abs.toLocaleString('en-US');
  const scale = 10n ** BigInt(minorUnits);
  const whole = abs / scale;
  const frac = (abs % scale).toString().padStart(minorUnits, '0');
  return `${negative ? '-' : ''}${whole.toLocaleString('en-US')}.${frac}`;
}

/** A whole number with thousands separators. */
export function formatInt(n) {
  return BigInt(n).toLocaleString('en-US');
}

/** A message for an ApiError (or anything thrown) a person can act on. */
export function describe(error) {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  return String(error && error.message ? error.message : error);
}

/** A table from rows: columns = [{label, get(row) -> text|Node, num?}]. */
export function table(columns, rows, { empty = 'Nothing to show.', id } = {}) {
  if (!rows.length) return el('p', { class: 'muted', id }, empty);
  return el('div', { class: 'table-wrap' }, el('table', { id },
    el('thead', {}, el('tr', {}, columns.map(c => el('th', { class: c.num ? 'num' : undefined }, c.label)))),
    el('tbody', {}, rows.map(r => el('tr', {}, columns.map(c => el('td', { class: c.num ? 'num' : undefined }, c.get(r))))))));
}

/** A login form for a bearer token; calls onToken(token) on submit. */
export function tokenForm({ title, hint, onToken, error }) {
  const input = el('textarea', { id: 'token-input', rows: 3, autocomplete: 'off', spellcheck: 'false', placeholder: 'token' });
  const form = el('form', { class: 'card signin', id: 'signin' },
    el('h2', {}, title),
    el('p', { class: 'muted' }, hint),
    error ? el('p', { class: 'error', role: 'alert' }, error) : null,
    input,
    el('button', { type: 'submit', id: 'signin-button' }, 'Sign in'));
  form.addEventListener('submit', e => {
    e.preventDefault();
    const t = input.value.trim();
    if (t) onToken(t);
  });
  return form;
}
