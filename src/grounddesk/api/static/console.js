// Agent console: the ticket queue with live SLA timers, live updates over /v1/staff/ws (polling every 5 s
// while the socket is down), and the ticket detail (console-ticket.js).

import { staffSession, wsUrl } from './api.js';
import { backoffDelay, h, replaceChildren } from './dom.js';
import { TicketView } from './console-ticket.js';
import { badge, humanize, initStaffShell, slaText, toast, toastError } from './staff.js';

const POLL_MS = 5000;
const CLOSED = new Set(['resolved', 'returned_to_bot']);
const PRIORITY_RANK = { urgent: 0, critical: 0, high: 1, normal: 2, medium: 2, low: 3 };

const $ = (id) => document.getElementById(id);
const els = {
  layout: $('app-view'),
  queue: $('queue'),
  empty: $('queue-empty'),
  count: $('queue-count'),
  status: $('filter-status'),
  mine: $('filter-mine'),
  overdue: $('filter-overdue'),
  refresh: $('queue-refresh'),
  live: $('live-status'),
  placeholder: $('ticket-placeholder'),
  detail: $('ticket-detail'),
};

const state = {
  api: null,
  user: null,
  active: false,
  tickets: new Map(),
  selectedId: null,
  unread: new Set(),
  fresh: new Set(),
  loadSeq: 0,
  ws: null,
  wsAttempts: 0,
  wsTimer: null,
  pollTimer: null,
  slaTimer: null,
};

let view = null;

function priorityRank(p) {
  if (typeof p === 'number') return p;
  return PRIORITY_RANK[String(p || '').toLowerCase()] ?? 2;
}

function isMine(t) {
  const u = state.user;
  return Boolean(u && t.assignee && (t.assignee === u.username || t.assignee === u.display_name));
}

function isOverdue(t) {
  if (CLOSED.has(t.status)) return false;
  return Boolean(t.overdue) || (Boolean(t.sla_due_at) && Date.parse(t.sla_due_at) < Date.now());
}

/** Same rules as the server's filters, for tickets that arrive over the socket. */
function matchesFilters(t) {
  if (els.status.value && t.status !== els.status.value) return false;
  if (els.mine.checked && !isMine(t)) return false;
  if (els.overdue.checked && !isOverdue(t)) return false;
  return true;
}

function compareTickets(a, b) {
  const closed = Number(CLOSED.has(a.status)) - Number(CLOSED.has(b.status));
  if (closed) return closed;
  const overdue = Number(isOverdue(b)) - Number(isOverdue(a));
  if (overdue) return overdue;
  const prio = priorityRank(a.priority) - priorityRank(b.priority);
  if (prio) return prio;
  const due = (Date.parse(a.sla_due_at) || Infinity) - (Date.parse(b.sla_due_at) || Infinity);
  if (due) return due;
  return (Date.parse(a.created_at) || 0) - (Date.parse(b.created_at) || 0);
}

function tickSla() {
  for (const el of document.querySelectorAll('[data-sla-due]')) slaText(el);
}

function ticketRow(t) {
  const id = String(t.id);
  const sla = h('span', { class: 'sla', dataset: { testid: 'sla' } });
  if (t.sla_due_at && !CLOSED.has(t.status)) {
    sla.dataset.slaDue = t.sla_due_at;
    sla.dataset.overdue = String(Boolean(t.overdue));
    slaText(sla);
  } else {
    sla.textContent = CLOSED.has(t.status) ? humanize(t.status) : 'No SLA';
  }
  const meta = [t.customer_id ? `Customer ${t.customer_id}` : 'Anonymous', humanize(t.status),
    t.assignee ? (isMine(t) ? 'you' : t.assignee) : 'unassigned'].join(' · ');
  const row = h('button', {
    type: 'button',
    class: ['ticket-row', state.fresh.has(id) ? 'ticket-row--fresh' : null],
    'aria-current': state.selectedId === id ? 'true' : null,
    dataset: { testid: 'ticket-row', ticketId: id, status: t.status },
  },
  h('span', { class: 'row-top' }, badge(humanize(t.priority || 'normal'), `prio-${t.priority}`),
    h('span', { class: 'row-id', text: `#${String(id).slice(0, 8)}`, title: String(id) }),
    state.unread.has(id) ? h('span', { class: 'unread-dot', title: 'New customer message' }, h('span', { class: 'sr-only', text: 'New customer message' })) : null,
    sla),
  h('span', { class: 'row-reason', text: t.reason ? humanize(t.reason) : 'No reason given' }),
  h('span', { class: 'row-meta', text: meta }),
  t.pending_action ? h('span', { class: 'row-flag', text: 'Action awaiting approval' }) : null);
  row.addEventListener('click', () => selectTicket(id));
  return h('li', {}, row);
}

function renderQueue() {
  const focusedId = document.activeElement?.closest?.('.ticket-row')?.dataset.ticketId;
  const tickets = [...state.tickets.values()].sort(compareTickets);
  replaceChildren(els.queue, tickets.map(ticketRow));
  els.empty.hidden = tickets.length > 0;
  els.count.textContent = `(${tickets.length})`;
  if (focusedId) {
    for (const row of els.queue.querySelectorAll('.ticket-row')) if (row.dataset.ticketId === focusedId) row.focus();
  }
}

async function loadQueue() {
  const seq = ++state.loadSeq;
  els.queue.setAttribute('aria-busy', 'true');
  try {
    const result = await state.api.get('/v1/tickets', {
      status: els.status.value || undefined,
      mine: els.mine.checked ? 'true' : undefined,
      overdue: els.overdue.checked ? 'true' : undefined,
    });
    if (seq !== state.loadSeq || !state.active) return;
    state.tickets = new Map((result.tickets || []).map((t) => [String(t.id), t]));
    renderQueue();
  } catch (err) {
    if (seq === state.loadSeq && state.active && err.status !== 401) toastError(err);
  } finally {
    if (seq === state.loadSeq) els.queue.setAttribute('aria-busy', 'false');
  }
}

function upsertTicket(t, created) {
  const id = String(t.id);
  if (matchesFilters(t)) state.tickets.set(id, t);
  else state.tickets.delete(id);
  if (created) {
    state.fresh.add(id);
    setTimeout(() => {
      state.fresh.delete(id);
      for (const row of els.queue.querySelectorAll('.ticket-row--fresh')) {
        if (row.dataset.ticketId === id) row.classList.remove('ticket-row--fresh');
      }
    }, 4000);
  }
  renderQueue();
}

function selectTicket(id) {
  state.selectedId = String(id);
  state.unread.delete(state.selectedId);
  renderQueue();
  els.placeholder.hidden = true;
  els.layout.classList.add('has-selection');
  if (window.location.hash !== `#ticket-${id}`) history.replaceState(null, '', `#ticket-${encodeURIComponent(id)}`);
  view.show(state.selectedId);
}

function deselect() {
  state.selectedId = null;
  view.close();
  els.placeholder.hidden = false;
  els.layout.classList.remove('has-selection');
  history.replaceState(null, '', window.location.pathname);
  renderQueue();
  els.queue.querySelector('.ticket-row')?.focus();
}

function handleFrame(frame) {
  if (!frame || typeof frame !== 'object') return;
  if ((frame.type === 'ticket_created' || frame.type === 'ticket_updated') && frame.ticket) {
    upsertTicket(frame.ticket, frame.type === 'ticket_created');
    if (String(frame.ticket.id) === state.selectedId) view.liveUpdate(frame.ticket);
    if (frame.type === 'ticket_created' && matchesFilters(frame.ticket)) {
      toast(`New ticket #${frame.ticket.id}: ${humanize(frame.ticket.reason || 'needs a person')}`);
    }
  } else if (frame.type === 'customer_message' && frame.ticket_id !== undefined) {
    const id = String(frame.ticket_id);
    if (id === state.selectedId) {
      view.appendCustomerMessage(frame.text || '');
    } else {
      state.unread.add(id);
      renderQueue();
    }
  }
}

function setLive(mode) {
  els.live.dataset.state = mode;
  els.live.textContent = { live: 'Live', polling: 'Polling every 5 s', offline: 'Offline' }[mode];
  els.live.title = mode === 'polling' ? 'Live updates are unavailable; refreshing every 5 seconds.' : '';
}

function startPolling() {
  if (state.pollTimer) return;
  state.pollTimer = setInterval(() => {
    loadQueue();
    if (state.selectedId) view.refresh();
  }, POLL_MS);
}

function stopPolling() {
  clearInterval(state.pollTimer);
  state.pollTimer = null;
}

function connectWs() {
  if (!state.active || state.ws) return;
  let ws;
  try {
    ws = new WebSocket(wsUrl('', '/v1/staff/ws', { token: staffSession.token }));
  } catch {
    setLive('polling');
    startPolling();
    return;
  }
  state.ws = ws;
  let opened = false;
  ws.addEventListener('open', () => {
    opened = true;
    const reconnected = state.wsAttempts > 0;
    state.wsAttempts = 0;
    stopPolling();
    setLive('live');
    if (reconnected) {
      loadQueue();
      if (state.selectedId) view.refresh();
    }
  });
  ws.addEventListener('message', (msg) => {
    try {
      handleFrame(JSON.parse(msg.data));
    } catch {
      /* ignore malformed frames */
    }
  });
  ws.addEventListener('close', () => {
    if (state.ws !== ws) return;
    state.ws = null;
    if (!state.active) return;
    setLive('polling');
    startPolling();
    if (opened) loadQueue();
    clearTimeout(state.wsTimer);
    state.wsTimer = setTimeout(connectWs, backoffDelay(state.wsAttempts++, 30000));
  });
}

function stopLive() {
  stopPolling();
  clearTimeout(state.wsTimer);
  clearInterval(state.slaTimer);
  if (state.ws) {
    const ws = state.ws;
    state.ws = null;
    ws.close(1000);
  }
  setLive('offline');
}

function onSignedIn({ api, user }) {
  state.api = api;
  state.user = user;
  state.active = true;
  if (!view) {
    view = new TicketView({
      root: els.detail,
      api,
      getUser: () => state.user,
      onTicket: (t) => {
        const id = String(t.id);
        const { transcript, sources, events, confidence_reasons: _r, ...ticket } = t;
        if (state.tickets.has(id) || matchesFilters(ticket)) upsertTicket(ticket, false);
      },
      onBack: deselect,
    });
  }
  clearInterval(state.slaTimer);
  state.slaTimer = setInterval(tickSla, 1000);
  loadQueue().then(() => {
    const match = /^#ticket-(.+)$/.exec(window.location.hash);
    if (match && !state.selectedId) selectTicket(decodeURIComponent(match[1]));
  });
  connectWs();
}

function onSignedOut() {
  state.active = false;
  stopLive();
  state.tickets.clear();
  state.selectedId = null;
  state.unread.clear();
  if (view) view.close();
  els.placeholder.hidden = false;
  els.layout.classList.remove('has-selection');
  replaceChildren(els.queue);
}

for (const control of [els.status, els.mine, els.overdue]) control.addEventListener('change', () => loadQueue());
els.refresh.addEventListener('click', () => loadQueue());
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && state.selectedId && !document.querySelector('dialog[open]')) {
    const tag = document.activeElement?.tagName;
    if (tag !== 'TEXTAREA' && tag !== 'INPUT') deselect();
  }
});

initStaffShell({ onSignedIn, onSignedOut });
