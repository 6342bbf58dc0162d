// Shared shell of the staff pages (agent console, knowledge console): sign-in, sign-out, session expiry,
// toasts and the confirmation dialog. Both pages contain the same login markup (see console.html).

import { ApiError, createClient, errorMessage, staffSession } from './api.js';
import { formatDuration, h } from './dom.js';

const byId = (id) => document.getElementById(id);

/**
 * Show a short message at the bottom of the page.
 * @param {string} message
 * @param {'info'|'success'|'error'} [kind]
 */
export function toast(message, kind = 'info') {
  const region = byId(kind === 'error' ? 'toast-alert' : 'toast-status');
  if (!region) return;
  const item = h('div', { class: `toast toast--${kind}`, dataset: { testid: 'toast', kind } }, h('span', { text: message }));
  const dismiss = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', text: '×' });
  dismiss.addEventListener('click', () => item.remove());
  item.appendChild(dismiss);
  region.appendChild(item);
  setTimeout(() => item.remove(), kind === 'error' ? 9000 : 4500);
}

/** Show an error (ApiError detail or generic sentence) as a toast. */
export function toastError(err) {
  toast(errorMessage(err), 'error');
}

/**
 * Ask for confirmation in the page's <dialog id="confirm-dialog">.
 * @param {{title: string, message: string, confirmLabel?: string, danger?: boolean}} options
 * @returns {Promise<boolean>}
 */
export function confirmAction({ title, message, confirmLabel = 'Confirm', danger = false }) {
  const dialog = byId('confirm-dialog');
  byId('confirm-title').textContent = title;
  byId('confirm-message').textContent = message;
  const ok = byId('confirm-ok');
  ok.textContent = confirmLabel;
  ok.classList.toggle('btn--danger', danger);
  ok.classList.toggle('btn--primary', !danger);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    byId('confirm-cancel').focus();
  });
}

/**
 * Disable a button while an async action runs; errors become toasts. Returns the action's result or undefined.
 * @template T
 * @param {HTMLButtonElement|null} button
 * @param {() => Promise<T>} action
 * @returns {Promise<T|undefined>}
 */
export async function withBusy(button, action) {
  if (button) {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
  }
  try {
    return await action();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) toastError(err);
    return undefined;
  } finally {
    if (button) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  }
}

/**
 * Wire up the login form, the sign-out button and session expiry for a staff page.
 *
 * @param {object} options
 * @param {(ctx: {api: object, user: object}) => void} options.onSignedIn called after sign-in (or a restored
 *   session); may be called again after a later sign-in.
 * @param {() => void} options.onSignedOut called on sign-out or session expiry; stop timers and sockets here.
 * @returns {{api: object, user: () => object|null}}
 */
export function initStaffShell({ onSignedIn, onSignedOut }) {
  const loginView = byId('login-view');
  const appView = byId('app-view');
  const form = byId('login-form');
  const username = byId('login-username');
  const password = byId('login-password');
  const submit = byId('login-submit');
  const error = byId('login-error');
  const userBox = byId('user-box');
  const userName = byId('user-name');
  const logout = byId('logout');
  let currentUser = null;
  let signedIn = false;

  const api = createClient({
    baseUrl: '',
    getToken: () => staffSession.token,
    onUnauthorized: () => {
      if (signedIn) showLogin('Your session has expired. Please sign in again.');
    },
  });

  function showLogin(message) {
    const wasSignedIn = signedIn;
    signedIn = false;
    currentUser = null;
    staffSession.clear();
    appView.hidden = true;
    userBox.hidden = true;
    loginView.hidden = false;
    error.textContent = message || '';
    password.value = '';
    if (wasSignedIn) onSignedOut();
    username.focus();
  }

  function showApp(user) {
    currentUser = user;
    signedIn = true;
    loginView.hidden = true;
    appView.hidden = false;
    userBox.hidden = false;
    const role = user && user.role ? ` · ${String(user.role).replace(/_/g, ' ')}` : '';
    userName.textContent = `${(user && (user.display_name || user.username)) || 'Signed in'}${role}`;
    onSignedIn({ api, user });
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const name = username.value.trim();
    if (!name || !password.value) {
      error.textContent = 'Enter your username and password.';
      (name ? password : username).focus();
      return;
    }
    submit.disabled = true;
    try {
      const result = await api.post('/v1/auth/login', { username: name, password: password.value });
      staffSession.save(result.token, result.user);
      password.value = '';
      showApp(result.user);
    } catch (err) {
      error.textContent =
        err instanceof ApiError && err.status === 401 ? 'Incorrect username or password.' : errorMessage(err);
      password.select();
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });

  logout.addEventListener('click', async () => {
    logout.disabled = true;
    try {
      await api.post('/v1/auth/logout');
    } catch {
      /* the session is forgotten locally either way */
    } finally {
      logout.disabled = false;
      showLogin('You have signed out.');
    }
  });

  (async () => {
    if (!staffSession.token) {
      showLogin('');
      return;
    }
    // A token from earlier in this tab: confirm it is still valid before showing the app.
    try {
      const user = await api.get('/v1/auth/me');
      staffSession.saveUser(user);
      showApp(user);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) showLogin('Your session has expired. Please sign in again.');
      else showLogin(errorMessage(err));
    }
  })();

  return { api, user: () => currentUser };
}

/**
 * "3 minutes ago"-style relative time for an ISO timestamp.
 * @param {string} iso
 * @returns {string}
 */
export function relativeTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const diff = Math.round((date.getTime() - Date.now()) / 1000);
  const abs = Math.abs(diff);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  if (abs < 60) return rtf.format(diff, 'second');
  if (abs < 3600) return rtf.format(Math.round(diff / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(diff / 3600), 'hour');
  return rtf.format(Math.round(diff / 86400), 'day');
}

/**
 * A status/priority badge.
 * @param {string} text
 * @param {string} kind css modifier
 * @returns {HTMLElement}
 */
export function badge(text, kind) {
  return h('span', { class: `badge badge--${String(kind || 'neutral').replace(/[^a-z0-9_-]/gi, '')}`, text });
}

/**
 * Render an SLA countdown into an element carrying data-sla-due (ISO) and data-overdue ("true"/"false").
 * @param {HTMLElement} el
 */
export function slaText(el) {
  const due = Date.parse(el.dataset.slaDue);
  if (Number.isNaN(due)) return;
  const left = due - Date.now();
  const overdue = left < 0 || el.dataset.overdue === 'true';
  el.textContent = left < 0 ? `Overdue ${formatDuration(left)}` : overdue ? 'Overdue' : `${formatDuration(left)} left`;
  el.classList.toggle('sla--overdue', overdue);
  el.classList.toggle('sla--soon', !overdue && left < 5 * 60 * 1000);
  el.setAttribute('aria-label', overdue ? `SLA overdue: ${el.textContent}` : `SLA: ${el.textContent}`);
}

/** Human form of a snake_case status. */
export function humanize(value) {
  const text = String(value ?? '').replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
