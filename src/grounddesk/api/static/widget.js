// grounddesk chat widget. Embed with one tag:
//
//   <script type="module" src="https://support.example.com/static/widget.js"
//           data-grounddesk-url="https://support.example.com"   (API base; empty = same origin as the page)
//           data-title="Northwind help"
//           data-customer-id="" data-identity-timestamp="" data-identity-signature=""   (verified identity)
//           data-position="bottom-right"                          (or "bottom-left")
//           data-brand-color="#1f6f4a"></script>
//
// The widget renders inside an open Shadow DOM (host page styles cannot reach it), loads widget.css from next
// to this file, and exposes window.grounddeskWidget = {open(), close(), send(text), reset(), ready}.

import { ApiError, createClient, errorMessage } from './api.js';
import { allowedHref, h } from './dom.js';
import { buildMessage, buildStreaming, icon } from './widget-messages.js';
import { ChatConnection } from './widget-transport.js';

const UNFILLED = /^\{\{.*\}\}$/; // a server-side placeholder that was not replaced
const BOT_WAIT_MS = 45000;

function findScript() {
  const scripts = [...document.querySelectorAll('script[src]')];
  return (
    scripts.find((s) => s.src === import.meta.url) ||
    scripts.find((s) => /widget\.js([?#]|$)/.test(s.src) && s.hasAttribute('data-grounddesk-url')) ||
    scripts.find((s) => s.hasAttribute('data-grounddesk-url')) ||
    null
  );
}

function attr(script, name) {
  const value = script ? script.getAttribute(name) : null;
  if (!value) return '';
  const trimmed = value.trim();
  return UNFILLED.test(trimmed) ? '' : trimmed;
}

function readConfig(script) {
  const position = attr(script, 'data-position').toLowerCase();
  const brand = attr(script, 'data-brand-color');
  const customerId = attr(script, 'data-customer-id');
  const timestamp = attr(script, 'data-identity-timestamp');
  const signature = attr(script, 'data-identity-signature');
  const lang = (document.documentElement.lang || navigator.language || 'en').toLowerCase().split('-')[0];
  return {
    baseUrl: attr(script, 'data-grounddesk-url').replace(/\/+$/, ''),
    title: attr(script, 'data-title') || 'Help',
    identity: customerId && timestamp && signature ? { customer_id: customerId, timestamp, signature } : null,
    customerId: customerId && timestamp && signature ? customerId : '',
    position: position.includes('left') ? 'left' : 'right',
    brandColor: brand && window.CSS && CSS.supports('color', brand) ? brand : '',
    locale: /^[a-z]{2,3}$/.test(lang) ? lang : 'en',
  };
}

function uuid() {
  if (window.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // crypto.randomUUID needs a secure context; build the same RFC 4122 v4 form from getRandomValues.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The conversation kept in sessionStorage so a reload resumes it. */
class SessionStore {
  constructor(key) {
    this.key = key;
  }
  load() {
    try {
      const raw = window.sessionStorage.getItem(this.key);
      return raw ? JSON.parse(raw) : null;
    } catch {
      return null;
    }
  }
  save(value) {
    try {
      window.sessionStorage.setItem(this.key, JSON.stringify(value));
    } catch {
      /* storage unavailable: the conversation lasts as long as the page */
    }
  }
  clear() {
    try {
      window.sessionStorage.removeItem(this.key);
    } catch {
      /* ignore */
    }
  }
}

class GrounddeskWidget {
  constructor(config) {
    this.config = config;
    this.apiOrigin = config.baseUrl ? new URL(config.baseUrl, window.location.href).href : window.location.href;
    // Links in answers: the service, the embedding page, and the hosts /v1/widget/config lists (loaded in mount).
    this.linkAllow = { origins: [new URL(this.apiOrigin).origin, window.location.origin], hosts: [] };
    this.configReady = Promise.resolve();
    this.store = new SessionStore(`grounddesk.widget:${config.baseUrl || window.location.origin}`);
    this.api = createClient({ baseUrl: config.baseUrl, getToken: () => (this.conv ? this.conv.token : null) });
    this.conv = null; // {id, token, greeting, customerId, lastSeq, feedback, pending, open}
    this.convPromise = null;
    this.conn = null;
    this.seen = new Set();
    this.streams = new Map(); // reply_to -> {el, append}
    this.mode = 'bot';
    this.agentName = '';
    this.unread = 0;
    this.isOpen = false;
    this.typingTimer = null;
    this.reconnectNoticeTimer = null;
  }

  /** Build the Shadow DOM and resume a stored conversation. Resolves once the stylesheet has loaded. */
  async mount() {
    this.configReady = this._loadConfig();
    const host = h('div', { id: 'grounddesk-widget', 'data-grounddesk-widget': '' });
    if (this.config.brandColor) host.style.setProperty('--gd-brand', this.config.brandColor);
    host.style.display = 'none'; // until widget.css has loaded: no flash of unstyled widget
    document.body.appendChild(host);
    this.host = host;
    const root = host.attachShadow({ mode: 'open' });
    this.root = root;
    const css = h('link', { rel: 'stylesheet', href: new URL('./widget.css', import.meta.url).href });
    const cssLoaded = new Promise((resolve) => {
      css.addEventListener('load', resolve, { once: true });
      css.addEventListener('error', resolve, { once: true });
    });
    root.appendChild(css);
    root.appendChild(this._buildUi());
    await cssLoaded;
    host.style.removeProperty('display');

    const stored = this.store.load();
    if (stored && stored.id && stored.token && stored.customerId === this.config.customerId) {
      this.conv = { feedback: {}, pending: [], lastSeq: 0, ...stored };
      const reopen = Boolean(stored.open);
      this.ensureConversation().catch(() => {});
      if (reopen) this.open({ focus: false }).catch(() => {});
    } else if (stored) {
      this.store.clear(); // another signed-in customer: never show their conversation
    }
  }

  /** The service's widget settings (the link allowlist); without them only same-origin links are made. */
  async _loadConfig() {
    try {
      const config = await this.api.get('/v1/widget/config');
      const hosts = config && Array.isArray(config.link_hosts) ? config.link_hosts : [];
      this.linkAllow.hosts = hosts.filter((x) => typeof x === 'string' && x).map((x) => x.toLowerCase());
    } catch {
      /* unreachable now: the conversation start reports that; links stay limited to the same origins */
    }
  }

  _buildUi() {
    const title = this.config.title;
    this.launcher = h('button', {
      type: 'button',
      class: 'gd-launcher',
      'aria-expanded': 'false',
      'aria-controls': 'gd-panel',
      'aria-label': `Open chat: ${title}`,
      dataset: { testid: 'gd-launcher' },
    });
    this.badge = h('span', { class: 'gd-badge', 'aria-hidden': 'true', hidden: true });
    this.launcher.append(icon('chat'), icon('close'), this.badge);
    this.launcher.addEventListener('click', () => {
      if (this.isOpen) this.close();
      else this.open().catch(() => {}); // a start failure is already shown in the panel
    });

    const closeBtn = h('button', { type: 'button', class: 'gd-close', 'aria-label': 'Close chat' }, icon('close'));
    closeBtn.addEventListener('click', () => this.close());
    this.subtitle = h('p', { class: 'gd-subtitle', id: 'gd-subtitle' });
    this.connNotice = h('div', { class: 'gd-conn', role: 'status', hidden: true });
    this.handoffBanner = h('div', { class: 'gd-handoff', role: 'status', dataset: { testid: 'gd-handoff' }, hidden: true });
    this.log = h('div', {
      class: 'gd-log',
      role: 'log',
      'aria-live': 'polite',
      'aria-relevant': 'additions',
      'aria-label': 'Conversation',
      tabindex: '0',
    });
    this.typingEl = h('div', { class: 'gd-typing', hidden: true }, h('span', { class: 'gd-dots', 'aria-hidden': 'true' },
      h('i'), h('i'), h('i')), h('span', { class: 'gd-typing-text' }));
    this.input = h('textarea', {
      id: 'gd-input',
      class: 'gd-input',
      rows: '1',
      maxlength: '4000',
      placeholder: 'Type your message…',
      autocomplete: 'off',
      'aria-describedby': 'gd-hint',
      dataset: { testid: 'gd-input' },
    });
    this.sendBtn = h('button', { type: 'submit', class: 'gd-send', 'aria-label': 'Send message', dataset: { testid: 'gd-send' } },
      icon('send'));
    const form = h(
      'form',
      { class: 'gd-composer' },
      h('label', { for: 'gd-input', class: 'gd-sr', text: 'Message' }),
      this.input,
      this.sendBtn,
      h('span', { id: 'gd-hint', class: 'gd-sr', text: 'Press Enter to send, Shift+Enter for a new line.' }),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this._submitComposer();
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
        e.preventDefault();
        this._submitComposer();
      }
    });
    this.input.addEventListener('input', () => {
      this._autosize();
      if (this.input.value.trim() && this.conn) this.conn.typing();
    });

    this.panel = h(
      'section',
      {
        id: 'gd-panel',
        class: 'gd-panel',
        role: 'dialog',
        'aria-modal': 'false',
        'aria-labelledby': 'gd-title',
        'aria-describedby': 'gd-subtitle',
        dataset: { testid: 'gd-panel' },
        hidden: true,
      },
      h('header', { class: 'gd-header' },
        h('div', { class: 'gd-header-text' }, h('h2', { id: 'gd-title', class: 'gd-title', text: title }), this.subtitle),
        closeBtn),
      this.connNotice,
      this.handoffBanner,
      this.log,
      this.typingEl,
      form,
      h('p', { class: 'gd-footnote', text: 'Answers are based on our help articles and may be reviewed by our team.' }),
    );
    this.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        this.close();
      }
    });
    this._setMode('bot');
    // The launcher comes first in tab order; CSS shows the panel above it.
    this.frame = h('div', { class: `gd-frame gd-pos-${this.config.position}` }, this.launcher, this.panel);
    return this.frame;
  }

  /**
   * Open the chat panel and start (or resume) the conversation.
   * @param {{focus?: boolean}} [opts]
   * @returns {Promise<void>} resolves once the conversation is ready
   */
  async open({ focus = true } = {}) {
    if (!this.isOpen) {
      this.isOpen = true;
      this.panel.hidden = false;
      this.frame.classList.add('gd-is-open');
      this.launcher.setAttribute('aria-expanded', 'true');
      this.launcher.setAttribute('aria-label', `Close chat: ${this.config.title}`);
      this._setUnread(0);
      if (focus) this.input.focus();
      this._scrollToEnd(true);
      this._persist();
    }
    await this.ensureConversation();
  }

  /** Close the panel and give focus back to the launcher. */
  close() {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.panel.hidden = true;
    this.frame.classList.remove('gd-is-open');
    this.launcher.setAttribute('aria-expanded', 'false');
    this._setUnread(0);
    this.launcher.focus();
    this._persist();
  }

  /**
   * Send a customer message (opens the panel if needed).
   * @param {string} text
   * @returns {Promise<string|null>} the client_message_id, or null if nothing was sent
   */
  async send(text) {
    const body = String(text ?? '').trim();
    if (!body) return null;
    try {
      if (!this.isOpen) await this.open({ focus: false });
      else await this.ensureConversation();
    } catch (err) {
      // The chat could not start (the reason is shown in the panel): keep the text so nothing is lost.
      if (!this.input.value) {
        this.input.value = body;
        this._autosize();
      }
      throw err;
    }
    if (body.length > 4000) {
      this._system('error', 'That message is too long. Please keep it under 4,000 characters.');
      return null;
    }
    const id = uuid();
    const el = buildMessage({ type: 'customer_message', text: body, client_message_id: id }, this._ctx());
    el.dataset.state = 'sending';
    el.dataset.clientMessageId = id;
    this._append(el, true);
    this.conv.pending.push({ id, text: body });
    this._persist();
    if (this.mode === 'bot') this._showTyping('The assistant is typing…', BOT_WAIT_MS);
    this.conn.send(id, body);
    return id;
  }

  /** Forget the stored conversation and start a fresh one. */
  async reset() {
    if (this.conn) this.conn.stop();
    this.conn = null;
    this.conv = null;
    this.convPromise = null;
    this.store.clear();
    this.seen.clear();
    this.streams.clear();
    this.log.replaceChildren();
    this._setMode('bot');
    if (this.isOpen) await this.ensureConversation();
  }

  /** Create the conversation, or redraw and reconnect a stored one. Safe to call repeatedly. */
  ensureConversation() {
    if (!this.convPromise) {
      this.convPromise = this._startConversation().catch((err) => {
        this.convPromise = null;
        throw err;
      });
    }
    return this.convPromise;
  }

  async _startConversation() {
    this._setBusy(true);
    try {
      await this.configReady; // nothing is rendered before the link allowlist is known
      if (this.conv) {
        try {
          await this._resume();
          return;
        } catch (err) {
          if (!(err instanceof ApiError) || ![401, 403, 404].includes(err.status)) throw err;
          const carried = this.conv.pending;
          this.conv = null;
          this.store.clear();
          await this._create(carried);
          return;
        }
      }
      await this._create([]);
    } catch (err) {
      this._renderStartError(err);
      throw err;
    } finally {
      this._setBusy(false);
    }
  }

  async _create(carriedPending) {
    const created = await this.api.post('/v1/conversations', {
      identity: this.config.identity,
      locale: this.config.locale,
    });
    this.conv = {
      id: created.id,
      token: created.token,
      greeting: created.greeting || '',
      verified: Boolean(created.verified),
      customerId: this.config.customerId,
      lastSeq: 0,
      feedback: {},
      pending: [],
      open: this.isOpen,
    };
    this.log.replaceChildren();
    this.seen.clear();
    this._renderGreeting();
    this._persist();
    this._connect();
    for (const item of carriedPending || []) this.send(item.text);
  }

  async _resume() {
    const history = await this.api.get(`/v1/conversations/${encodeURIComponent(this.conv.id)}`);
    this.log.replaceChildren();
    this.seen.clear();
    this.streams.clear();
    this._renderGreeting();
    this._applyHistory(history, false);
    // Messages typed before the reload that the server never acknowledged: show and send them again.
    for (const item of this.conv.pending) {
      const el = buildMessage({ type: 'customer_message', text: item.text }, this._ctx());
      el.dataset.state = 'sending';
      el.dataset.clientMessageId = item.id;
      this._append(el, false);
    }
    this._connect();
    for (const item of this.conv.pending) this.conn.send(item.id, item.text);
    this._scrollToEnd(true);
  }

  _applyHistory(history, live) {
    if (history && Array.isArray(history.events)) {
      for (const ev of history.events) if (ev.type !== 'token' && ev.type !== 'typing') this._handleEvent(ev, live);
    }
    if (!history || !history.mode) return;
    // The server still reports pending_human after "no_agent"; keep the "leave your details" state then.
    const modal = (history.events || []).filter((ev) =>
      ['handoff', 'agent_message', 'returned_to_bot', 'no_agent'].includes(ev.type),
    );
    const last = modal.length ? modal[modal.length - 1].type : null;
    this._setMode(history.mode === 'pending_human' && last === 'no_agent' ? 'no_agent' : history.mode);
  }

  _connect() {
    if (this.conn) this.conn.stop();
    this.conn = new ChatConnection({
      api: this.api,
      baseUrl: this.config.baseUrl,
      conversationId: this.conv.id,
      token: this.conv.token,
      lastSeq: () => (this.conv ? this.conv.lastSeq : 0),
      onEvent: (ev) => this._handleEvent(ev, true),
      onState: (state) => this._connState(state),
      onAck: (id, seq) => this._markSent(id, seq),
      onSendFailed: (id, err) => this._markFailed(id, err),
      transport: this.conv.transport,
      onFallback: (transport) => {
        this.conv.transport = transport;
        this._persist();
      },
      catchUp: async () => {
        const history = await this.api.get(`/v1/conversations/${encodeURIComponent(this.conv.id)}`);
        this._applyHistory(history, true);
      },
      onFatal: () => this._conversationLost(),
    });
    this.conn.start();
  }

  _conversationLost() {
    const carried = this.conv ? this.conv.pending : [];
    if (this.conn) this.conn.stop();
    this.conn = null;
    this.conv = null;
    this.store.clear();
    this._system('notice', 'This chat session has expired. Starting a new one…');
    this.convPromise = this._create(carried).catch((err) => {
      this.convPromise = null;
      this._renderStartError(err);
    });
  }

  _handleEvent(ev, live) {
    if (ev.type === 'token') {
      this._stream(ev);
      return;
    }
    if (ev.type === 'typing') {
      if (ev.author !== 'customer') {
        const who = ev.agent_name || (this.mode === 'bot' ? 'The assistant' : this.agentName || 'Our team');
        this._showTyping(`${who} is typing…`, 6000);
      }
      return;
    }
    if (typeof ev.seq === 'number') {
      if (this.seen.has(ev.seq)) return;
      this.seen.add(ev.seq);
      if (this.conv && ev.seq > (this.conv.lastSeq || 0)) this.conv.lastSeq = ev.seq;
    }
    if (ev.type === 'customer_message' && ev.client_message_id) {
      const local = this._localBubble(ev.client_message_id);
      if (this.conn) this.conn.acknowledge(ev.client_message_id, ev.seq);
      this._markSent(ev.client_message_id, ev.seq);
      if (local) return;
    }
    if (this.conn && (ev.type === 'answer' || ev.type === 'clarify' || ev.type === 'handoff')) {
      this.conn.replied(ev.reply_to || ev.client_message_id);
    } else if (this.conn && (ev.type === 'agent_message' || ev.type === 'returned_to_bot')) {
      this.conn.repliedAll(); // a person answered: what the customer sent meanwhile went to them
    }
    let replaced = null;
    if (ev.type === 'answer' || ev.type === 'clarify' || ev.type === 'error' || ev.type === 'handoff') {
      replaced = this._takeStream(ev.client_message_id);
    }
    if (ev.type !== 'customer_message') this._hideTyping();
    if (ev.type === 'handoff') this._setMode('pending_human');
    if (ev.type === 'agent_message') {
      this.agentName = ev.agent_name || this.agentName;
      this._setMode('human');
    }
    if (ev.type === 'returned_to_bot') this._setMode('bot');
    if (ev.type === 'no_agent') this._setMode('no_agent');
    const el = buildMessage(ev, this._ctx());
    if (el) {
      if (replaced) replaced.replaceWith(el);
      else this._append(el, live);
      if (live && !this.isOpen && ev.type !== 'customer_message') this._setUnread(this.unread + 1);
    } else if (replaced) {
      replaced.remove();
    }
    this._persist();
  }

  _stream(ev) {
    const key = ev.reply_to || ev.client_message_id || '_';
    let stream = this.streams.get(key);
    if (!stream) {
      stream = buildStreaming();
      this.streams.set(key, stream);
      this._hideTyping();
      this.log.setAttribute('aria-busy', 'true');
      this._append(stream.el, true);
    }
    stream.append(ev.text || '');
    this._scrollToEnd(false);
  }

  _takeStream(replyTo) {
    let key = replyTo && this.streams.has(replyTo) ? replyTo : null;
    if (!key && this.streams.size) key = this.streams.keys().next().value;
    if (key === null || key === undefined) return null;
    const stream = this.streams.get(key);
    this.streams.delete(key);
    if (!this.streams.size) this.log.removeAttribute('aria-busy');
    return stream.el;
  }

  _localBubble(clientMessageId) {
    for (const el of this.log.querySelectorAll('[data-client-message-id]')) {
      if (el.dataset.clientMessageId === clientMessageId) return el;
    }
    return null;
  }

  _markSent(clientMessageId, seq) {
    const el = this._localBubble(clientMessageId);
    if (el) {
      el.dataset.state = 'sent';
      if (typeof seq === 'number') el.dataset.seq = String(seq);
      el.querySelector('.gd-retry')?.remove();
    }
    if (this.conv) {
      this.conv.pending = this.conv.pending.filter((p) => p.id !== clientMessageId);
      this._persist();
    }
  }

  _markFailed(clientMessageId, err) {
    const el = this._localBubble(clientMessageId);
    const item = this.conv ? this.conv.pending.find((p) => p.id === clientMessageId) : null;
    if (this.conv) {
      this.conv.pending = this.conv.pending.filter((p) => p.id !== clientMessageId);
      this._persist();
    }
    this._hideTyping();
    if (!el) return;
    el.dataset.state = 'failed';
    const retry = h('button', { type: 'button', class: 'gd-retry' }, `Not sent: ${errorMessage(err)} Retry`);
    retry.addEventListener('click', () => {
      retry.remove();
      el.dataset.state = 'sending';
      const text = item ? item.text : el.querySelector('.gd-bubble').textContent;
      this.conv.pending.push({ id: clientMessageId, text });
      this._persist();
      this.conn.send(clientMessageId, text);
    });
    el.appendChild(retry);
  }

  _ctx() {
    return {
      resolveHref: (url) => allowedHref(url, this.apiOrigin, this.linkAllow),
      feedbackFor: (seq) => (this.conv && this.conv.feedback ? this.conv.feedback[seq] || null : null),
      onFeedback: async (seq, rating, comment) => {
        const body = { seq, rating };
        if (comment) body.comment = comment;
        await this.api.post(`/v1/conversations/${encodeURIComponent(this.conv.id)}/feedback`, body);
        this.conv.feedback[seq] = rating;
        this._persist();
      },
      onContact: (body) => this.api.post(`/v1/conversations/${encodeURIComponent(this.conv.id)}/contact`, body),
      errorText: (err) => errorMessage(err),
    };
  }

  _renderGreeting() {
    if (!this.conv || !this.conv.greeting) return;
    const el = buildMessage({ type: 'greeting', text: this.conv.greeting }, this._ctx());
    this._append(el, false);
  }

  _renderStartError(err) {
    this.log.querySelector('.gd-start-error')?.remove();
    const retry = h('button', { type: 'button', class: 'gd-btn gd-btn--small' }, 'Try again');
    const el = h('div', { class: 'gd-msg gd-msg--system gd-msg--error gd-start-error', dataset: { type: 'error' } },
      h('p', { text: `We couldn't start the chat. ${errorMessage(err)}` }), retry);
    retry.addEventListener('click', () => {
      el.remove();
      this.ensureConversation().catch(() => {});
    });
    this._append(el, true);
  }

  _system(type, text) {
    const el = buildMessage({ type, text, seq: null }, this._ctx());
    el.removeAttribute('data-seq');
    this._append(el, true);
  }

  _append(el, live) {
    const nearEnd = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80;
    this.log.appendChild(el);
    if (!live || nearEnd) this._scrollToEnd(false);
  }

  _scrollToEnd(force) {
    requestAnimationFrame(() => {
      if (force || this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 400) {
        this.log.scrollTop = this.log.scrollHeight;
      }
    });
  }

  _setMode(mode) {
    this.mode = ['bot', 'pending_human', 'human', 'no_agent'].includes(mode) ? mode : 'bot';
    this.frame?.setAttribute('data-mode', this.mode);
    if (this.mode === 'pending_human') {
      this.handoffBanner.hidden = false;
      this.handoffBanner.replaceChildren(icon('person'), h('span', { text: 'A person will take over shortly' }));
    } else {
      this.handoffBanner.hidden = true;
      this.handoffBanner.replaceChildren();
    }
    const subtitles = {
      bot: 'Virtual assistant · replies in seconds',
      pending_human: 'Connecting you with our team…',
      human: `You're chatting with ${this.agentName || 'our support team'}`,
      no_agent: 'Our team is away right now',
    };
    this.subtitle.textContent = subtitles[this.mode];
  }

  _connState(state) {
    clearTimeout(this.reconnectNoticeTimer);
    if (state === 'online' || state === 'connecting') {
      this.connNotice.hidden = true;
      this.connNotice.textContent = '';
      return;
    }
    // Avoid flashing the notice for blips shorter than a second and a half.
    this.reconnectNoticeTimer = setTimeout(() => {
      this.connNotice.hidden = false;
      this.connNotice.textContent = 'Connection lost. Reconnecting…';
    }, 1500);
  }

  _showTyping(text, ms) {
    clearTimeout(this.typingTimer);
    this.typingEl.querySelector('.gd-typing-text').textContent = text;
    this.typingEl.hidden = false;
    this.typingTimer = setTimeout(() => this._hideTyping(), ms);
  }

  _hideTyping() {
    clearTimeout(this.typingTimer);
    this.typingEl.hidden = true;
  }

  _setBusy(busy) {
    this.log.setAttribute('aria-busy', String(busy));
    this.frame.classList.toggle('gd-loading', busy);
    if (!busy && this.streams.size) this.log.setAttribute('aria-busy', 'true');
  }

  _setUnread(count) {
    this.unread = count;
    this.badge.hidden = count === 0;
    this.badge.textContent = count > 9 ? '9+' : String(count);
    if (!this.isOpen) {
      const suffix = count ? ` (${count} new ${count === 1 ? 'message' : 'messages'})` : '';
      this.launcher.setAttribute('aria-label', `Open chat: ${this.config.title}${suffix}`);
    }
  }

  _submitComposer() {
    const text = this.input.value;
    if (!text.trim()) {
      this.input.focus();
      return;
    }
    this.input.value = '';
    this._autosize();
    this.send(text).catch(() => {}); // a start failure is shown in the log and the text is put back
  }

  _autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 140)}px`;
  }

  _persist() {
    if (!this.conv) return;
    this.conv.open = this.isOpen;
    this.store.save(this.conv);
  }
}

if (!window.grounddeskWidget) {
  const widget = new GrounddeskWidget(readConfig(findScript()));
  const ready = widget.mount();
  window.grounddeskWidget = {
    open: () => ready.then(() => widget.open()),
    close: () => ready.then(() => widget.close()),
    send: (text) => ready.then(() => widget.send(text)),
    reset: () => ready.then(() => widget.reset()),
    ready,
  };
}
