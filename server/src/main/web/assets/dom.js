// Small DOM helpers shared by the watch page and the overlay. Text goes in as text nodes, never parsed as markup:
// chat text and names come from other people.

/** el('div', {class: 'x', id: 'y', dataset: {a: 1}, onclick: fn}, child, 'text', ...) */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== 'string') node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const GIFT_ICONS = { heart: '❤️', rose: '🌹', star: '⭐', rocket: '🚀', galaxy: '🌌', like: '👍' };

/** The picture of a gift: the catalog has ids and names only, so well-known ids get an emoji. */
export function giftIcon(giftId) {
  return GIFT_ICONS[giftId] || '🎁';
}

/** Tier 1..4 for CSS classes (the catalog's tier; bigger gifts, bigger alerts). */
export function tierOf(gift) {
  const t = Number(gift && gift.tier);
  return Number.isInteger(t) && t > 0 ? Math.min(t, 4) : 1;
}

/** "Rose ×3" */
export function giftLabel(name, count) {
  return count > 1 ? `${name} ×${count}` : name;
}

/** Keeps a list at most `max` children long, dropping the oldest (first) ones. */
export function capChildren(list, max) {
  while (list.childElementCount > max) list.firstElementChild.remove();
}
