// Tiny DOM helpers shared by the widget and the staff pages. Text always goes in through textContent /
// text nodes: no server-provided string is ever parsed as HTML.

/**
 * Create an element.
 *
 * Attributes: `class`, `text` (textContent), `dataset` (object), `style` (object, set from JS so CSP allows it),
 * `on` (object of event listeners), booleans (`disabled: true`), everything else via setAttribute.
 * Children: nodes, strings (as text nodes), arrays, null/undefined/false (skipped).
 *
 * @param {string} tag
 * @param {object} [attrs]
 * @param {...any} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== null) el.dataset[k] = String(v);
    } else if (key === 'style') Object.assign(el.style, value);
    else if (key === 'on') {
      for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
    } else if (key === 'value') el.value = String(value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/**
 * Append children (nodes, strings, nested arrays; falsy values skipped).
 * @param {Node} parent
 * @param {any[]} children
 */
export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** Remove all children of an element. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/**
 * Replace the children of an element.
 * @param {Element} el
 * @param {...any} children
 */
export function replaceChildren(el, ...children) {
  clear(el);
  append(el, children);
}

/**
 * A safe href: http(s) URLs only, resolved against `base`. Returns null for anything else (javascript:, data:).
 * @param {string} raw
 * @param {string} base
 * @returns {string|null}
 */
export function safeHref(raw, base) {
  if (typeof raw !== 'string' || !raw.trim()) return null;
  try {
    const resolved = new URL(raw.trim(), base);
    return resolved.protocol === 'http:' || resolved.protocol === 'https:' ? resolved.href : null;
  } catch {
    return null;
  }
}

/**
 * A link the widget may show: http(s) only, no credentials in it, and only to an allowed origin or host
 * (the service itself, the page that embeds the widget, and the hosts the service lists in /v1/widget/config).
 * Anything else — javascript:, data:, another site — gets null and stays plain text.
 * @param {string} raw
 * @param {string} base URL that relative links resolve against (the service).
 * @param {{origins?: string[], hosts?: string[]}} allow
 * @returns {string|null}
 */
export function allowedHref(raw, base, allow) {
  const href = safeHref(raw, base);
  if (!href) return null;
  const url = new URL(href);
  if (url.username || url.password) return null;
  if ((allow.origins || []).includes(url.origin)) return href;
  return (allow.hosts || []).includes(url.hostname.toLowerCase()) ? href : null;
}

/**
 * Format an ISO timestamp as a short local time ("14:05") or date+time when not today.
 * @param {string|null|undefined} iso
 * @returns {string}
 */
export function formatTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const now = new Date();
  const sameDay = date.toDateString() === now.toDateString();
  return sameDay
    ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/**
 * "1h 05m", "4m 09s", "12s" for a duration in milliseconds (absolute value).
 * @param {number} ms
 * @returns {string}
 */
export function formatDuration(ms) {
  const total = Math.floor(Math.abs(ms) / 1000);
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const pad = (n) => String(n).padStart(2, '0');
  if (days) return `${days}d ${hours}h`;
  if (hours) return `${hours}h ${pad(minutes)}m`;
  if (minutes) return `${minutes}m ${pad(seconds)}s`;
  return `${seconds}s`;
}

/**
 * Exponential backoff with jitter: 0.5s, 1s, 2s, ... capped.
 * @param {number} attempt 0-based
 * @param {number} [capMs]
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, capMs = 15000) {
  const base = Math.min(capMs, 500 * 2 ** Math.min(attempt, 10));
  return Math.round(base / 2 + Math.random() * (base / 2));
}
