// Ticket detail of the agent console: transcript, AI draft editor, actions, confidence, sources, event log.

import { ApiError } from './api.js';
import { formatTime, h, replaceChildren } from './dom.js';
import { badge, confirmAction, humanize, slaText, toast, withBusy } from './staff.js';

const CLOSED = new Set(['resolved', 'returned_to_bot']);
const TYPING_THROTTLE_MS = 3000;

/** Compact, truncated JSON for the event log and pending-action details. */
function compactJson(value, max = 240) {
  if (value === null || value === undefined) return '';
  let text;
  try {
    text = typeof value === 'string' ? value : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function section(title, id, ...children) {
  return h('section', { class: 'td-section', 'aria-labelledby': id }, h('h3', { id, class: 'td-h', text: title }), ...children);
}

function field(labelText, control, hint) {
  return h('div', { class: 'field' }, h('label', { for: control.id, text: labelText }), control,
    hint ? h('p', { class: 'hint', id: `${control.id}-hint`, text: hint }) : null);
}

export class TicketView {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root the <article> that holds the detail
   * @param {object} options.api staff API client
   * @param {() => object|null} options.getUser signed-in user
   * @param {(ticket: object) => void} options.onTicket called with every fresh Ticket (updates the queue row)
   * @param {() => void} options.onBack "back to queue" on narrow screens
   */
  constructor({ root, api, getUser, onTicket, onBack }) {
    Object.assign(this, { root, api, getUser, onTicket, onBack });
    this.ticket = null;
    this.ticketId = null;
    this.originalDraft = '';
    this.draftSentText = null; // text last sent from the draft editor: blocks an accidental second send
    this.lastTypingAt = 0;
    this.loadToken = 0;
  }

  /** Whether the ticket is held by the signed-in user. */
  isMine(ticket = this.ticket) {
    const user = this.getUser();
    if (!ticket || !ticket.assignee || !user) return false;
    return ticket.assignee === user.username || (user.display_name && ticket.assignee === user.display_name);
  }

  /**
   * Open a ticket: fetch its detail and build the view.
   * @param {string} id
   */
  async show(id) {
    const token = ++this.loadToken;
    this.ticketId = String(id);
    this.root.hidden = false;
    this.root.setAttribute('aria-busy', 'true');
    try {
      const detail = await this.api.get(`/v1/tickets/${encodeURIComponent(id)}`);
      if (token !== this.loadToken) return;
      this._build(detail);
      this._apply(detail);
      this.root.querySelector('#td-title')?.focus();
    } catch (err) {
      if (token !== this.loadToken) return;
      replaceChildren(this.root, h('p', { class: 'form-error', role: 'alert', text: `Could not open the ticket. ${err.message}` }));
    } finally {
      if (token === this.loadToken) this.root.removeAttribute('aria-busy');
    }
  }

  /** Re-fetch the open ticket and update it in place (inputs keep what the agent typed). */
  async refresh() {
    if (!this.ticketId || !this.els) return;
    const token = this.loadToken;
    try {
      const detail = await this.api.get(`/v1/tickets/${encodeURIComponent(this.ticketId)}`);
      if (token === this.loadToken) this._apply(detail);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        toast('This ticket no longer exists.', 'error');
        this.close();
      }
    }
  }

  /** Close the view. */
  close() {
    this.loadToken += 1;
    this.ticket = null;
    this.ticketId = null;
    this.els = null;
    this.root.hidden = true;
    replaceChildren(this.root);
  }

  /**
   * Merge a Ticket (without transcript etc.) from a live update, then re-fetch the detail.
   * @param {object} ticket
   */
  liveUpdate(ticket) {
    if (!this.ticket || String(ticket.id) !== this.ticketId) return;
    this._apply({ ...this.ticket, ...ticket });
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refresh(), 250);
  }

  /**
   * A customer message arrived on the open ticket.
   * @param {string} text
   */
  appendCustomerMessage(text) {
    if (!this.els) return;
    const entry = { speaker: 'customer', text, at: new Date().toISOString() };
    this.ticket.transcript = [...(this.ticket.transcript || []), entry];
    this.els.transcript.appendChild(this._transcriptItem(entry, true));
    this._scrollTranscript();
  }

  _build(detail) {
    const id = String(detail.id);
    const els = {};
    this.els = els;
    els.title = h('h2', { id: 'td-title', class: 'td-title', tabindex: '-1' });
    els.sub = h('p', { class: 'td-sub' });
    els.badges = h('div', { class: 'td-badges' });
    els.sla = h('span', { class: 'sla', dataset: { testid: 'ticket-sla' } });
    els.assignee = h('span', { class: 'td-assignee' });
    els.claim = h('button', { type: 'button', class: 'btn btn--primary', dataset: { testid: 'claim' }, text: 'Claim' });
    els.release = h('button', { type: 'button', class: 'btn', dataset: { testid: 'release' }, text: 'Release' });
    els.claim.addEventListener('click', () => this._act(els.claim, 'claim', null, 'Ticket claimed.'));
    els.release.addEventListener('click', () => this._act(els.release, 'release', null, 'Ticket released to the queue.'));
    const back = h('button', { type: 'button', class: 'btn btn--ghost back-btn', text: '← Queue' });
    back.addEventListener('click', () => this.onBack());

    // Pending write action that needs a person's approval.
    els.actionBody = h('div', { class: 'action-body' });
    els.actionNote = h('input', { id: 'action-note', type: 'text', maxlength: '1000', dataset: { testid: 'action-note' } });
    els.approve = h('button', { type: 'button', class: 'btn btn--primary', dataset: { testid: 'approve' }, text: 'Approve' });
    els.reject = h('button', { type: 'button', class: 'btn btn--danger', dataset: { testid: 'reject' }, text: 'Reject' });
    els.approve.addEventListener('click', () => this._act(els.approve, 'actions/approve', this._note(els.actionNote), 'Action approved.'));
    els.reject.addEventListener('click', () => this._act(els.reject, 'actions/reject', this._note(els.actionNote), 'Action rejected.'));
    els.actionCard = h('section', { class: 'td-section action-card', 'aria-labelledby': 'action-h' },
      h('h3', { id: 'action-h', class: 'td-h', text: 'Action awaiting approval' }), els.actionBody,
      field('Note (optional)', els.actionNote), h('div', { class: 'btn-row' }, els.approve, els.reject));

    els.transcript = h('ol', { class: 'transcript', dataset: { testid: 'transcript' }, 'aria-label': 'Conversation transcript' });

    // Draft editor.
    els.draft = h('textarea', { id: 'draft-text', rows: '6', dataset: { testid: 'draft' }, 'aria-describedby': 'draft-text-hint' });
    els.draftHint = h('p', { class: 'hint', id: 'draft-text-hint' });
    els.sendDraft = h('button', { type: 'button', class: 'btn btn--primary', dataset: { testid: 'send-draft' }, text: 'Send draft' });
    els.sendEdited = h('button', { type: 'button', class: 'btn btn--primary', dataset: { testid: 'send-edited' }, text: 'Send edited' });
    els.resetDraft = h('button', { type: 'button', class: 'btn btn--ghost', dataset: { testid: 'reset-draft' }, text: 'Reset to draft' });
    els.draft.addEventListener('input', () => {
      this._updateDraftButtons();
      this._typing();
    });
    els.sendDraft.addEventListener('click', () => this._reply(els.sendDraft, this.originalDraft, 'draft'));
    els.sendEdited.addEventListener('click', () => this._reply(els.sendEdited, els.draft.value, 'edited'));
    els.resetDraft.addEventListener('click', () => {
      els.draft.value = this.originalDraft;
      this._updateDraftButtons();
      els.draft.focus();
    });

    // Own reply.
    els.replyText = h('textarea', { id: 'reply-text', rows: '4', dataset: { testid: 'reply-text' } });
    els.reply = h('button', { type: 'button', class: 'btn btn--primary', dataset: { testid: 'reply' }, text: 'Reply' });
    els.replyText.addEventListener('input', () => {
      els.reply.disabled = !this._canWork() || !els.replyText.value.trim();
      this._typing();
    });
    els.replyText.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !els.reply.disabled) els.reply.click();
    });
    els.reply.addEventListener('click', () => this._reply(els.reply, els.replyText.value, 'own'));

    // Finish: resolve or hand back to the bot.
    els.resolveNote = h('input', { id: 'resolve-note', type: 'text', maxlength: '2000', dataset: { testid: 'resolve-note' } });
    els.resolve = h('button', { type: 'button', class: 'btn', dataset: { testid: 'resolve' }, text: 'Resolve' });
    els.resolve.addEventListener('click', () => this._resolve());
    els.returnSummary = h('input', { id: 'return-summary', type: 'text', maxlength: '2000', dataset: { testid: 'return-summary' } });
    els.returnToBot = h('button', { type: 'button', class: 'btn', dataset: { testid: 'return-to-bot' }, text: 'Return to bot' });
    els.returnToBot.addEventListener('click', () => this._returnToBot());
    els.workHint = h('p', { class: 'hint work-hint', role: 'status' });

    // Side column.
    els.reason = h('p', { class: 'td-reason' });
    els.confidence = h('div', { class: 'confidence' });
    els.sources = h('ol', { class: 'sources', 'aria-label': 'Sources' });
    els.events = h('ol', { class: 'event-log', 'aria-label': 'Event log' });
    els.kcTitle = h('input', { id: 'kc-title', type: 'text', maxlength: '300', required: true, dataset: { testid: 'kc-title' } });
    els.kcText = h('textarea', { id: 'kc-text', rows: '5', required: true, dataset: { testid: 'kc-text' } });
    els.kcSubmit = h('button', { type: 'submit', class: 'btn', dataset: { testid: 'kc-submit' }, text: 'Propose correction' });
    els.kcResult = h('p', { class: 'hint', role: 'status', dataset: { testid: 'kc-result' } });
    const kcForm = h('form', { class: 'kc-form' }, field('Title', els.kcTitle),
      field('Corrected text', els.kcText, 'Becomes a draft document that a knowledge manager reviews.'), els.kcSubmit, els.kcResult);
    kcForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this._proposeCorrection();
    });

    replaceChildren(
      this.root,
      h('header', { class: 'td-head' },
        back,
        h('div', { class: 'td-head-text' }, els.title, els.sub),
        h('div', { class: 'td-head-side' }, els.badges, els.sla),
        h('div', { class: 'td-claim' }, els.assignee, els.claim, els.release)),
      h('div', { class: 'td-grid' },
        h('div', { class: 'td-main' },
          els.actionCard,
          section('Conversation', 'transcript-h', els.transcript),
          els.workHint,
          section('AI draft', 'draft-h', field('Reply drafted by the assistant — edit before sending if needed', els.draft), els.draftHint,
            h('div', { class: 'btn-row' }, els.sendDraft, els.sendEdited, els.resetDraft)),
          section('Reply in your own words', 'reply-h', field('Your reply', els.replyText, 'Ctrl+Enter sends.'),
            h('div', { class: 'btn-row' }, els.reply)),
          section('Finish', 'finish-h',
            h('div', { class: 'finish-row' }, field('Resolution note', els.resolveNote), els.resolve),
            h('div', { class: 'finish-row' }, field('Summary for the bot (optional)', els.returnSummary), els.returnToBot))),
        h('aside', { class: 'td-side', 'aria-label': 'Ticket context' },
          section('Why it was escalated', 'reason-h', els.reason),
          section('Confidence', 'conf-h', els.confidence),
          section('Sources', 'sources-h', els.sources),
          section('Propose a knowledge correction', 'kc-h', kcForm),
          section('Event log', 'events-h', els.events))),
    );
    this.root.dataset.ticketId = id;
    this.draftSentText = null;
    this.originalDraft = detail.draft || '';
    els.draft.value = this.originalDraft;
  }

  _apply(detail) {
    const els = this.els;
    if (!els) return;
    const previous = this.ticket;
    this.ticket = { ...(previous || {}), ...detail };
    const t = this.ticket;
    const closed = CLOSED.has(t.status);
    const mine = this.isMine(t);
    this.root.dataset.status = t.status || '';

    els.title.textContent = t.reason ? humanize(t.reason) : `Ticket ${t.id}`;
    els.sub.textContent = [`#${String(t.id).slice(0, 8)}`, t.customer_id ? `Customer ${t.customer_id}` : 'Anonymous customer',
      t.created_at ? `opened ${formatTime(t.created_at)}` : null].filter(Boolean).join(' · ');
    replaceChildren(els.badges, badge(humanize(t.priority || 'normal'), `prio-${t.priority}`),
      badge(humanize(t.status), `status-${t.status}`));
    if (closed || !t.sla_due_at) {
      delete els.sla.dataset.slaDue;
      els.sla.textContent = closed ? '' : 'No SLA';
      els.sla.classList.remove('sla--overdue');
    } else {
      els.sla.dataset.slaDue = t.sla_due_at;
      els.sla.dataset.overdue = String(Boolean(t.overdue));
      slaText(els.sla);
    }

    els.assignee.textContent = t.assignee ? (mine ? 'Assigned to you' : `Assigned to ${t.assignee}`) : 'Unassigned';
    els.claim.hidden = mine || closed;
    els.release.hidden = !mine || closed;

    // Pending action.
    const action = t.pending_action;
    els.actionCard.hidden = !action;
    if (action) {
      const extra = Object.entries(action).filter(([k]) => !['tool', 'summary'].includes(k));
      replaceChildren(els.actionBody,
        h('p', {}, 'Tool: ', h('code', { class: 'tool-name', dataset: { testid: 'action-tool' }, text: action.tool || 'unknown' })),
        h('p', { class: 'action-summary', dataset: { testid: 'action-summary' }, text: action.summary || '' }),
        extra.length ? h('dl', { class: 'kv' }, extra.map(([k, v]) => [h('dt', { text: humanize(k) }), h('dd', { text: compactJson(v, 600) })])) : null);
    }

    if (Array.isArray(detail.transcript)) this._renderTranscript(detail.transcript, previous);

    // The AI draft: replace it only if the agent has not started editing.
    const newDraft = t.draft || '';
    if (newDraft !== this.originalDraft && els.draft.value === this.originalDraft) {
      els.draft.value = newDraft;
      this.originalDraft = newDraft;
    } else if (!els.draft.value && newDraft) {
      els.draft.value = newDraft;
      this.originalDraft = newDraft;
    }

    els.reason.textContent = t.reason ? humanize(t.reason) : 'No reason recorded.';
    this._renderConfidence(t);
    if (Array.isArray(detail.sources)) this._renderSources(detail.sources);
    if (Array.isArray(detail.events)) this._renderEvents(detail.events);
    this._updateWorkState();
    this.onTicket(t);
  }

  _canWork() {
    return Boolean(this.ticket) && this.isMine() && !CLOSED.has(this.ticket.status);
  }

  _updateWorkState() {
    const els = this.els;
    const can = this._canWork();
    const t = this.ticket;
    let hint = '';
    if (CLOSED.has(t.status)) hint = `This ticket is ${humanize(t.status).toLowerCase()}.`;
    else if (!t.assignee) hint = 'Claim this ticket to reply or act on it.';
    else if (!this.isMine()) hint = `${t.assignee} is handling this ticket.`;
    els.workHint.textContent = hint;
    els.workHint.hidden = !hint;
    for (const el of [els.draft, els.replyText, els.resolveNote, els.returnSummary, els.actionNote]) el.disabled = !can;
    els.approve.disabled = !can;
    els.reject.disabled = !can;
    els.resolve.disabled = !can;
    els.returnToBot.disabled = !can;
    els.reply.disabled = !can || !els.replyText.value.trim();
    this._updateDraftButtons();
  }

  _updateDraftButtons() {
    const els = this.els;
    const can = this._canWork();
    const value = els.draft.value;
    const edited = value !== this.originalDraft;
    const alreadySent = this.draftSentText !== null && value.trim() === this.draftSentText;
    els.sendDraft.disabled = !can || !this.originalDraft.trim() || edited || alreadySent;
    els.sendEdited.disabled = !can || !value.trim() || !edited || alreadySent;
    els.resetDraft.hidden = !edited || !this.originalDraft;
    if (alreadySent) els.draftHint.textContent = 'Sent to the customer. Edit the text to send another version.';
    else if (!this.originalDraft) els.draftHint.textContent = 'The assistant did not draft a reply for this ticket.';
    else if (edited) els.draftHint.textContent = 'You changed the draft: "Send edited" sends your version.';
    else els.draftHint.textContent = '';
  }

  _renderTranscript(entries, previous) {
    const list = this.els.transcript;
    const before = previous && Array.isArray(previous.transcript) ? previous.transcript.length : 0;
    const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
    replaceChildren(list, entries.map((e, i) => this._transcriptItem(e, previous && i >= before)));
    if (!entries.length) list.appendChild(h('li', { class: 'empty', text: 'No messages yet.' }));
    if (!previous || atEnd || entries.length > before) this._scrollTranscript();
  }

  _transcriptItem(entry, fresh) {
    const speaker = String(entry.speaker || 'system').toLowerCase();
    const known = ['customer', 'bot', 'assistant', 'agent', 'system'].includes(speaker) ? speaker : 'agent';
    return h('li', { class: ['msg', `msg--${known}`, fresh ? 'msg--fresh' : null], dataset: { speaker } },
      h('div', { class: 'msg-head' }, h('span', { class: 'msg-speaker', text: humanize(entry.speaker || 'system') }),
        entry.at ? h('time', { datetime: entry.at, text: formatTime(entry.at) }) : null),
      h('p', { class: 'msg-text', text: entry.text || '' }));
  }

  _scrollTranscript() {
    const list = this.els.transcript;
    requestAnimationFrame(() => {
      list.scrollTop = list.scrollHeight;
    });
  }

  _renderConfidence(t) {
    const box = this.els.confidence;
    const reasons = Array.isArray(t.confidence_reasons) ? t.confidence_reasons : [];
    if (typeof t.confidence !== 'number') {
      replaceChildren(box, h('p', { class: 'muted', text: 'No confidence score.' }));
      return;
    }
    const pct = Math.round(t.confidence * 100);
    const level = t.confidence >= 0.75 ? 'high' : t.confidence >= 0.5 ? 'medium' : 'low';
    replaceChildren(box,
      h('div', { class: 'conf-row' },
        h('meter', { min: '0', max: '1', low: '0.5', high: '0.75', optimum: '1', value: String(t.confidence), 'aria-label': 'Confidence' }),
        h('span', { class: `conf-value conf--${level}`, dataset: { testid: 'confidence' }, text: `${pct}% · ${humanize(level)}` })),
      reasons.length ? h('ul', { class: 'factors' }, reasons.map((r) => h('li', { text: String(r) }))) : null);
  }

  _renderSources(sources) {
    const list = this.els.sources;
    if (!sources.length) {
      replaceChildren(list, h('li', { class: 'empty', text: 'No sources were retrieved.' }));
      return;
    }
    replaceChildren(list, sources.map((s) => {
      const text = String(s.text || '');
      const short = text.length > 320 ? `${text.slice(0, 320)}…` : text;
      const meta = [`v${s.version}`, s.doc_id, typeof s.score === 'number' ? `score ${s.score.toFixed(2)}` : null].filter(Boolean).join(' · ');
      return h('li', { class: 'source', dataset: { testid: 'source', docId: s.doc_id, version: s.version } },
        h('p', { class: 'source-title', text: s.title || s.doc_id }),
        h('p', { class: 'source-meta', text: meta }),
        text.length > 320
          ? h('details', {}, h('summary', { text: short }), h('p', { class: 'source-text', text }))
          : h('p', { class: 'source-text', text: short }));
    }));
  }

  _renderEvents(events) {
    const list = this.els.events;
    if (!events.length) {
      replaceChildren(list, h('li', { class: 'empty', text: 'No events yet.' }));
      return;
    }
    replaceChildren(list, events.map((e) => h('li', { class: 'event' },
      h('time', { datetime: e.at || '', text: formatTime(e.at) }),
      h('span', { class: 'event-kind', text: humanize(e.kind || 'event') }),
      h('span', { class: 'event-actor', text: e.actor || '' }),
      e.data && (typeof e.data !== 'object' || Object.keys(e.data).length) ? h('code', { class: 'event-data', text: compactJson(e.data) }) : null)));
  }

  _note(input) {
    return () => {
      const note = input.value.trim();
      return note ? { note } : {};
    };
  }

  async _act(button, path, body, message) {
    const id = this.ticketId;
    const result = await withBusy(button, () => this.api.post(`/v1/tickets/${encodeURIComponent(id)}/${path}`,
      typeof body === 'function' ? body() : body ?? undefined));
    if (result && id === this.ticketId) {
      toast(message, 'success');
      this._apply(result);
      await this.refresh();
    }
    return result;
  }

  async _reply(button, text, source) {
    const body = String(text || '').trim();
    if (!body) return;
    const result = await this._act(button, 'reply', { text: body, source }, 'Reply sent to the customer.');
    if (!result) return;
    if (source === 'own') this.els.replyText.value = '';
    else this.draftSentText = body;
    this._updateWorkState();
  }

  async _resolve() {
    const note = this.els.resolveNote.value.trim();
    if (!note) {
      toast('Add a short resolution note first.', 'error');
      this.els.resolveNote.focus();
      return;
    }
    const result = await this._act(this.els.resolve, 'resolve', { note }, 'Ticket resolved.');
    if (result) this.els.resolveNote.value = '';
  }

  async _returnToBot() {
    const ok = await confirmAction({
      title: 'Return the conversation to the bot?',
      message: 'The assistant takes over again and this ticket is closed.',
      confirmLabel: 'Return to bot',
    });
    if (!ok) return;
    const summary = this.els.returnSummary.value.trim();
    const result = await this._act(this.els.returnToBot, 'return-to-bot', summary ? { summary } : {}, 'The bot has the conversation again.');
    if (result) this.els.returnSummary.value = '';
  }

  async _proposeCorrection() {
    const els = this.els;
    const title = els.kcTitle.value.trim();
    const text = els.kcText.value.trim();
    if (!title || !text) {
      els.kcResult.textContent = 'Give the correction a title and the corrected text.';
      (title ? els.kcText : els.kcTitle).focus();
      return;
    }
    const id = this.ticketId;
    const result = await withBusy(els.kcSubmit, () =>
      this.api.post(`/v1/tickets/${encodeURIComponent(id)}/knowledge-correction`, { title, text }));
    if (!result) return;
    els.kcTitle.value = '';
    els.kcText.value = '';
    els.kcResult.textContent = `Saved as draft ${result.doc_id} v${result.version}: a knowledge manager will review it.`;
  }

  _typing() {
    const now = Date.now();
    if (!this._canWork() || now - this.lastTypingAt < TYPING_THROTTLE_MS) return;
    this.lastTypingAt = now;
    this.api.post(`/v1/tickets/${encodeURIComponent(this.ticketId)}/typing`).catch(() => {});
  }
}
