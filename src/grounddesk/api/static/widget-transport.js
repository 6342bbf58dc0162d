// Live connection of the widget to one conversation.
//
// WebSocket first (/v1/conversations/{id}/ws?token=...). If the socket never opens, or fails to reopen three
// times in a row, the connection switches to Server-Sent Events (/events?token=...&after=<last seq>) for the
// stream and POST /messages for sending. Every customer message keeps its client_message_id until it is
// acknowledged (the server echoes a customer_message event carrying it, or POST /messages answers 202), and
// unacknowledged messages are sent again, with the same id, after every reconnect.

import { ApiError, wsUrl } from './api.js';
import { backoffDelay } from './dom.js';

const OPEN_TIMEOUT_MS = 6000;
const WS_ACK_TIMEOUT_MS = 8000;
const AWAIT_REPLY_MS = 10 * 60 * 1000; // unanswered messages older than this are not sent again
const TYPING_THROTTLE_MS = 3000;
const EVENT_TYPES = [
  'customer_message', 'answer', 'clarify', 'handoff', 'agent_message', 'returned_to_bot', 'token', 'typing',
  'no_agent', 'error',
];
// Close codes after which reconnecting with the same token is pointless.
const FATAL_CLOSE_CODES = new Set([1008, 4001, 4003, 4004, 4401, 4403, 4404]);

export class ChatConnection {
  /**
   * @param {object} options
   * @param {ReturnType<import('./api.js').createClient>} options.api client carrying the conversation token
   * @param {string} options.baseUrl API base ('' = same origin)
   * @param {string} options.conversationId
   * @param {string} options.token conversation token
   * @param {() => number} options.lastSeq highest seq already shown
   * @param {(ev: object) => void} options.onEvent
   * @param {(state: 'connecting'|'online'|'reconnecting') => void} options.onState
   * @param {(clientMessageId: string, seq: number|null) => void} options.onAck
   * @param {(clientMessageId: string, err: ApiError) => void} options.onSendFailed
   * @param {() => Promise<void>} options.catchUp redraws events missed while disconnected
   * @param {(err: ApiError) => void} options.onFatal the conversation or its token is no longer valid
   * @param {'ws'|'sse'} [options.transport] start with this transport (remembered from an earlier fallback)
   * @param {(transport: 'sse') => void} [options.onFallback] called when switching to SSE for good
   */
  constructor(options) {
    this.onFallback = () => {};
    Object.assign(this, options);
    this.transport = options.transport === 'sse' ? 'sse' : 'ws';
    this.pending = new Map(); // client_message_id -> {text, ackTimer, posting}
    // Stored by the server but not answered yet: sent again (same id) after a reconnect, because a server that
    // died mid-turn runs the turn of a re-sent, unanswered message (and only answers it once).
    this.awaiting = new Map(); // client_message_id -> {text, at}
    this.ws = null;
    this.es = null;
    this.stopped = true;
    this.wsEverOpened = false;
    this.wsFailures = 0;
    this.failures = 0;
    this.reconnectTimer = null;
    this.lastTypingAt = 0;
    this._onOnline = () => {
      if (!this.stopped && !this.isOpen()) this._reconnectNow();
    };
  }

  /** Open the stream. */
  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this._onOnline);
    this.onState('connecting');
    this._connect();
  }

  /** Close everything; pending messages stay queued for a later start(). */
  stop() {
    this.stopped = true;
    window.removeEventListener('online', this._onOnline);
    clearTimeout(this.reconnectTimer);
    for (const entry of this.pending.values()) clearTimeout(entry.ackTimer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, 'bye');
    }
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  /** True when the stream is currently open. */
  isOpen() {
    if (this.transport === 'ws') return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
    return Boolean(this.es && this.es.readyState === EventSource.OPEN);
  }

  /**
   * Queue a customer message and send it as soon as possible.
   * @param {string} clientMessageId
   * @param {string} text
   */
  send(clientMessageId, text) {
    if (!this.pending.has(clientMessageId)) this.pending.set(clientMessageId, { text, ackTimer: null, posting: false });
    this._transmit(clientMessageId);
  }

  /**
   * Mark a message as received by the server (echo seen or POST answered).
   * @param {string} clientMessageId
   * @param {number|null} seq
   */
  acknowledge(clientMessageId, seq) {
    const entry = this.pending.get(clientMessageId);
    if (!entry) return;
    clearTimeout(entry.ackTimer);
    this.pending.delete(clientMessageId);
    this.awaiting.set(clientMessageId, { text: entry.text, at: Date.now() });
    this.onAck(clientMessageId, seq ?? null);
  }

  /**
   * The server answered a message (answer, clarify or hand-off): nothing more to send for it.
   * @param {string|null|undefined} clientMessageId
   */
  replied(clientMessageId) {
    if (!clientMessageId) return;
    this.awaiting.delete(clientMessageId);
    const entry = this.pending.get(clientMessageId);
    if (entry && !entry.posting) {
      clearTimeout(entry.ackTimer);
      this.pending.delete(clientMessageId);
    }
  }

  /** A person replied: every message sent before went to them. */
  repliedAll() {
    this.awaiting.clear();
  }

  /** Tell the server the customer is typing (WebSocket only; throttled). */
  typing() {
    const now = Date.now();
    if (now - this.lastTypingAt < TYPING_THROTTLE_MS) return;
    if (this.transport === 'ws' && this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.lastTypingAt = now;
      this.ws.send(JSON.stringify({ type: 'typing' }));
    }
  }

  _connect() {
    if (this.stopped) return;
    if (this.transport === 'ws' && typeof WebSocket === 'function') this._openWs();
    else this._openSse();
  }

  _path(suffix) {
    return `/v1/conversations/${encodeURIComponent(this.conversationId)}${suffix}`;
  }

  _openWs() {
    let opened = false;
    let ws;
    try {
      ws = new WebSocket(wsUrl(this.baseUrl, this._path('/ws'), { token: this.token, after: this.lastSeq() }));
    } catch {
      this.transport = 'sse';
      this._connect();
      return;
    }
    this.ws = ws;
    const openTimer = setTimeout(() => {
      if (!opened) ws.close();
    }, OPEN_TIMEOUT_MS);
    ws.addEventListener('open', async () => {
      opened = true;
      clearTimeout(openTimer);
      this.wsEverOpened = true;
      this.wsFailures = 0;
      await this._afterOpen();
    });
    ws.addEventListener('message', (msg) => this._dispatch(msg.data));
    ws.addEventListener('close', (event) => {
      clearTimeout(openTimer);
      if (this.ws !== ws) return; // replaced or stopped on purpose
      this.ws = null;
      if (this.stopped) return;
      if (FATAL_CLOSE_CODES.has(event.code)) {
        // Rejected by policy: find out over HTTP whether the token is still good before trying again.
        this._checkAlive().then((alive) => {
          if (alive) this._scheduleReconnect();
        });
        return;
      }
      if (!opened) {
        this.wsFailures += 1;
        if (!this.wsEverOpened || this.wsFailures >= 3) {
          // WebSockets are blocked somewhere between us and the server: use SSE + POST from now on.
          this.transport = 'sse';
          this.onFallback('sse');
          this._connect();
          return;
        }
      }
      this._scheduleReconnect();
    });
  }

  _openSse() {
    if (typeof EventSource !== 'function') {
      this.onFatal(new ApiError(0, 'unsupported', 'This browser cannot open a live connection.'));
      return;
    }
    const url = this.api.url(this._path('/events'), { token: this.token, after: this.lastSeq() });
    const es = new EventSource(url);
    this.es = es;
    es.addEventListener('open', () => this._afterOpen());
    es.addEventListener('message', (msg) => this._dispatch(msg.data));
    // Also accept named SSE events ("event: answer"), in case the server labels them.
    for (const type of EVENT_TYPES) es.addEventListener(type, (msg) => this._dispatch(msg.data));
    es.addEventListener('error', () => {
      if (this.es !== es) return;
      // Take over reconnecting: EventSource would reuse the old `after` and give no HTTP status on failure.
      es.close();
      this.es = null;
      if (!this.stopped) this._scheduleReconnect();
    });
    // Sending in SSE mode does not depend on the stream: flush now.
    this._flush();
  }

  async _afterOpen() {
    this.failures = 0;
    this.onState('online');
    if (this.transport === 'ws') {
      // The WebSocket has no replay contract: fetch what was missed before it opened (and which messages the
      // server already has, so they are not sent twice). Events are de-duplicated by seq.
      try {
        await this.catchUp();
      } catch {
        /* the stream is open; missed events will show after the next reload */
      }
    }
    this._flush();
  }

  _dispatch(raw) {
    let ev;
    try {
      ev = JSON.parse(raw);
    } catch {
      return;
    }
    if (ev && typeof ev === 'object' && typeof ev.type === 'string') this.onEvent(ev);
  }

  _flush() {
    const cutoff = Date.now() - AWAIT_REPLY_MS;
    for (const [id, entry] of [...this.awaiting]) {
      this.awaiting.delete(id);
      // After a reconnect: the server may have died before answering; the same id is never answered twice.
      if (entry.at >= cutoff && !this.pending.has(id)) this.pending.set(id, { text: entry.text, ackTimer: null, posting: false });
    }
    for (const id of [...this.pending.keys()]) this._transmit(id);
  }

  _transmit(id) {
    const entry = this.pending.get(id);
    if (!entry || this.stopped) return;
    if (this.transport === 'ws') {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return; // sent by _flush() once open
      this.ws.send(JSON.stringify({ type: 'message', client_message_id: id, text: entry.text }));
      clearTimeout(entry.ackTimer);
      // No echo in time: POST the same id; the server deduplicates, and its 202 is a definite acknowledgement.
      entry.ackTimer = setTimeout(() => this._post(id, 0), WS_ACK_TIMEOUT_MS);
      return;
    }
    this._post(id, 0);
  }

  async _post(id, attempt) {
    const entry = this.pending.get(id);
    if (!entry || entry.posting || this.stopped) return;
    clearTimeout(entry.ackTimer);
    entry.posting = true;
    try {
      const result = await this.api.post(this._path('/messages'), { client_message_id: id, text: entry.text });
      entry.posting = false;
      this.acknowledge(id, result && typeof result.seq === 'number' ? result.seq : null);
    } catch (err) {
      entry.posting = false;
      if (!this.pending.has(id)) return;
      const apiErr = err instanceof ApiError ? err : new ApiError(0, 'network_error', String(err));
      if (apiErr.status === 401 || apiErr.status === 404) {
        this.onFatal(apiErr);
      } else if (apiErr.retryable) {
        entry.ackTimer = setTimeout(() => this._post(id, attempt + 1), backoffDelay(attempt));
      } else {
        this.pending.delete(id);
        this.onSendFailed(id, apiErr);
      }
    }
  }

  _scheduleReconnect() {
    clearTimeout(this.reconnectTimer);
    this.onState('reconnecting');
    const delay = backoffDelay(this.failures);
    this.failures += 1;
    this.reconnectTimer = setTimeout(() => this._reconnectNow(), delay);
  }

  async _reconnectNow() {
    clearTimeout(this.reconnectTimer);
    if (this.stopped || this.isOpen()) return;
    if (this.ws || this.es) return; // an attempt is already in flight
    if (this.failures >= 2 && !(await this._checkAlive())) return;
    this._connect();
  }

  /** After repeated failures, ask over plain HTTP whether the conversation still exists for this token. */
  async _checkAlive() {
    try {
      await this.catchUp();
      return true;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404)) {
        this.stop();
        this.onFatal(err);
        return false;
      }
      if (!this.stopped) this._scheduleReconnect();
      return false;
    }
  }
}
