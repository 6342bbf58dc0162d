// Knowledge console: upload, review queue, document list, versions + diff, approve/retire/delete, search preview.

import { formatTime, h, replaceChildren, safeHref } from './dom.js';
import { badge, confirmAction, humanize, initStaffShell, relativeTime, toast, withBusy } from './staff.js';

const REVIEW_STATUSES = new Set(['draft', 'in_review']);

const $ = (id) => document.getElementById(id);
const els = {
  reviewList: $('review-queue'),
  reviewEmpty: $('review-empty'),
  reviewCount: $('review-count'),
  docRows: $('doc-rows'),
  docsEmpty: $('docs-empty'),
  docsCount: $('docs-count'),
  statusFilter: $('doc-status'),
  uploadForm: $('upload-form'),
  uploadInput: $('upload-input'),
  uploadAudience: $('upload-audience'),
  uploadSubmit: $('upload-submit'),
  uploadResult: $('upload-result'),
  docView: $('doc-view'),
  docPlaceholder: $('doc-placeholder'),
  searchForm: $('search-form'),
  searchQuery: $('search-query'),
  searchSubmit: $('search-submit'),
  searchResults: $('search-results'),
};

const state = { api: null, active: false, selected: null, loadSeq: 0, docSeq: 0 };

const docPath = (id) => `/v1/knowledge/documents/${encodeURIComponent(id)}`;

// ---------------------------------------------------------------- lists

function reviewItem(doc) {
  const button = h('button', {
    type: 'button',
    class: 'doc-item',
    'aria-current': state.selected === doc.doc_id ? 'true' : null,
    dataset: { testid: 'review-row', docId: doc.doc_id, status: doc.status },
  },
  h('span', { class: 'doc-item-title', text: doc.title || doc.doc_id }),
  h('span', { class: 'doc-item-meta' }, badge(humanize(doc.status), `status-${doc.status}`),
    ` v${doc.latest_version}`, doc.updated_at ? ` · ${relativeTime(doc.updated_at)}` : ''));
  button.addEventListener('click', () => openDoc(doc.doc_id));
  return h('li', {}, button);
}

function docRow(doc) {
  const open = h('button', { type: 'button', class: 'link-button', text: doc.title || doc.doc_id });
  const row = h('tr', {
    class: state.selected === doc.doc_id ? 'is-selected' : null,
    dataset: { testid: 'doc-row', docId: doc.doc_id, status: doc.status },
  },
  h('td', {}, open, h('span', { class: 'doc-id', text: doc.doc_id })),
  h('td', {}, badge(humanize(doc.status), `status-${doc.status}`)),
  h('td', { text: `v${doc.latest_version}` }),
  h('td', { text: doc.approved_version ? `v${doc.approved_version}` : '—' }),
  h('td', { title: doc.updated_at || '', text: doc.updated_at ? relativeTime(doc.updated_at) : '' }));
  // The whole row opens the document; the button gives keyboard users the same action.
  row.addEventListener('click', (e) => {
    if (e.target !== open) openDoc(doc.doc_id);
  });
  open.addEventListener('click', () => openDoc(doc.doc_id));
  return row;
}

async function loadDocs() {
  const seq = ++state.loadSeq;
  const status = els.statusFilter.value;
  try {
    const all = await state.api.get('/v1/knowledge/documents');
    const filtered = status ? await state.api.get('/v1/knowledge/documents', { status }) : all;
    if (seq !== state.loadSeq || !state.active) return;
    const byUpdated = (a, b) => (Date.parse(b.updated_at) || 0) - (Date.parse(a.updated_at) || 0);
    const review = (all.documents || []).filter((d) => REVIEW_STATUSES.has(d.status)).sort(byUpdated);
    replaceChildren(els.reviewList, review.map(reviewItem));
    els.reviewEmpty.hidden = review.length > 0;
    els.reviewCount.textContent = review.length ? `(${review.length})` : '';
    const docs = [...(filtered.documents || [])].sort(byUpdated);
    replaceChildren(els.docRows, docs.map(docRow));
    els.docsEmpty.hidden = docs.length > 0;
    els.docsCount.textContent = `(${docs.length})`;
  } catch (err) {
    if (seq === state.loadSeq && err.status !== 401) toast(err.message, 'error');
  }
}

// ---------------------------------------------------------------- document view

function versionSelect(id, versions, selected) {
  const select = h('select', { id });
  for (const v of versions) {
    select.appendChild(h('option', { value: String(v.version), text: `v${v.version} · ${humanize(v.status)}` }));
  }
  if (selected !== undefined && selected !== null) select.value = String(selected);
  return select;
}

function renderDiff(pre, text) {
  if (!text || !text.trim()) {
    replaceChildren(pre, h('span', { class: 'diff-line diff-ctx', text: 'No differences.' }));
    return;
  }
  const lines = text.replace(/\n$/, '').split('\n');
  replaceChildren(pre, lines.map((line) => {
    let kind = 'ctx';
    if (line.startsWith('+++') || line.startsWith('---') || line.startsWith('diff ') || line.startsWith('\\')) kind = 'meta';
    else if (line.startsWith('@@')) kind = 'hunk';
    else if (line.startsWith('+')) kind = 'add';
    else if (line.startsWith('-')) kind = 'del';
    return h('span', { class: `diff-line diff-${kind}`, text: line || ' ' });
  }));
}

async function loadDiff(docId, from, to, pre) {
  pre.setAttribute('aria-busy', 'true');
  try {
    const result = await state.api.get(`${docPath(docId)}/diff`, { from: String(from), to: String(to) });
    renderDiff(pre, result ? result.diff : '');
  } catch (err) {
    replaceChildren(pre, h('span', { class: 'diff-line diff-error', text: `Could not load the diff: ${err.message}` }));
  } finally {
    pre.removeAttribute('aria-busy');
  }
}

async function openDoc(docId) {
  const seq = ++state.docSeq;
  state.selected = docId;
  markSelected();
  els.docPlaceholder.hidden = true;
  els.docView.hidden = false;
  els.docView.setAttribute('aria-busy', 'true');
  try {
    const doc = await state.api.get(docPath(docId));
    if (seq !== state.docSeq) return;
    renderDoc(doc);
  } catch (err) {
    if (seq !== state.docSeq) return;
    replaceChildren(els.docView, h('p', { class: 'form-error', role: 'alert', text: `Could not open the document. ${err.message}` }));
  } finally {
    if (seq === state.docSeq) els.docView.removeAttribute('aria-busy');
  }
}

function closeDoc() {
  state.selected = null;
  state.docSeq += 1;
  els.docView.hidden = true;
  replaceChildren(els.docView);
  els.docPlaceholder.hidden = false;
  markSelected();
}

function markSelected() {
  for (const row of els.docRows.querySelectorAll('tr')) row.classList.toggle('is-selected', row.dataset.docId === state.selected);
  for (const item of els.reviewList.querySelectorAll('.doc-item')) {
    if (item.dataset.docId === state.selected) item.setAttribute('aria-current', 'true');
    else item.removeAttribute('aria-current');
  }
}

function renderDoc(doc) {
  const versions = [...(doc.versions || [])].sort((a, b) => a.version - b.version);
  const latest = versions[versions.length - 1];
  const approved = [...versions].reverse().find((v) => v.status === 'approved');
  const reviewable = [...versions].reverse().find((v) => REVIEW_STATUSES.has(v.status));
  const docId = doc.doc_id;

  const versionRows = versions.map((v) => {
    const published = v.status === 'approved' ? safeHref(`/v1/knowledge/public/${encodeURIComponent(docId)}?version=${v.version}`, window.location.href) : null;
    return h('tr', { dataset: { testid: 'version-row', version: v.version, status: v.status } },
      h('td', { text: `v${v.version}` }),
      h('td', {}, badge(humanize(v.status), `status-${v.status}`)),
      h('td', { text: Array.isArray(v.audience) ? v.audience.join(', ') : humanize(v.audience || '—') }),
      h('td', { title: v.created_at || '', text: formatTime(v.created_at) }),
      h('td', {}, published ? h('a', { href: published, target: '_blank', rel: 'noopener noreferrer', text: 'View' }) : null));
  });

  // Approve / retire / delete.
  const approveSelect = versionSelect('approve-version', versions, (reviewable || latest || {}).version);
  const approve = h('button', { type: 'button', class: 'btn btn--primary', dataset: { testid: 'approve' }, text: 'Approve' });
  const retire = h('button', { type: 'button', class: 'btn', dataset: { testid: 'retire' }, text: 'Retire' });
  const del = h('button', { type: 'button', class: 'btn btn--danger', dataset: { testid: 'delete' }, text: 'Delete' });
  retire.disabled = !approved;
  const syncApprove = () => {
    const chosen = versions.find((v) => String(v.version) === approveSelect.value);
    approve.disabled = !chosen || chosen.status === 'approved';
    approve.title = approve.disabled ? 'This version is already approved.' : '';
  };
  approveSelect.addEventListener('change', syncApprove);
  syncApprove();
  approve.addEventListener('click', async () => {
    const version = Number(approveSelect.value);
    const ok = await confirmAction({
      title: `Approve v${version}?`,
      message: `“${doc.title}” v${version} becomes the version the assistant answers from${approved ? `, replacing v${approved.version}` : ''}.`,
      confirmLabel: 'Approve',
    });
    if (!ok) return;
    const done = await withBusy(approve, () => state.api.post(`${docPath(docId)}/approve`, { version }));
    if (done !== undefined) await afterChange(`Approved “${doc.title}” v${version}.`, docId);
  });
  retire.addEventListener('click', async () => {
    const ok = await confirmAction({
      title: 'Retire this document?',
      message: `“${doc.title}” will no longer be used to answer customers. Its history is kept.`,
      confirmLabel: 'Retire',
      danger: true,
    });
    if (!ok) return;
    const done = await withBusy(retire, () => state.api.post(`${docPath(docId)}/retire`));
    if (done !== undefined) await afterChange(`Retired “${doc.title}”.`, docId);
  });
  del.addEventListener('click', async () => {
    const ok = await confirmAction({
      title: 'Delete this document?',
      message: `“${doc.title}” and all ${versions.length} version(s) will be deleted. This cannot be undone.`,
      confirmLabel: 'Delete',
      danger: true,
    });
    if (!ok) return;
    const done = await withBusy(del, () => state.api.del(docPath(docId)));
    if (done !== undefined) {
      closeDoc();
      await afterChange(`Deleted “${doc.title}”.`, null);
    }
  });

  // Diff between two versions (a single version is shown against an empty document: from=0).
  const pre = h('pre', { class: 'diff', dataset: { testid: 'diff' }, tabindex: '0', 'aria-label': 'Differences' });
  const fromDefault = versions.length > 1 ? (approved && approved !== latest ? approved : versions[versions.length - 2]).version : 0;
  const fromOptions = [{ version: 0, status: 'empty' }, ...versions];
  const fromSelect = versionSelect('diff-from', fromOptions, fromDefault);
  fromSelect.options[0].textContent = 'Empty document';
  const toSelect = versionSelect('diff-to', versions, latest ? latest.version : undefined);
  const compare = h('button', { type: 'button', class: 'btn', dataset: { testid: 'diff-submit' }, text: 'Compare' });
  compare.addEventListener('click', () => withBusy(compare, () => loadDiff(docId, fromSelect.value, toSelect.value, pre)));

  replaceChildren(els.docView,
    h('div', { class: 'card-head' },
      h('div', {}, h('h2', { id: 'doc-title', tabindex: '-1', text: doc.title || docId }), h('p', { class: 'doc-id', text: docId })),
      h('button', { type: 'button', class: 'btn btn--ghost btn--small', text: 'Close', on: { click: closeDoc } })),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'doc-table versions' },
        h('caption', { class: 'sr-only', text: 'Versions' }),
        h('thead', {}, h('tr', {}, ['Version', 'Status', 'Audience', 'Created', 'Published'].map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, versionRows))),
    h('div', { class: 'doc-actions' },
      h('div', { class: 'field field--inline' }, h('label', { for: 'approve-version', text: 'Version' }), approveSelect),
      approve, retire, del),
    h('h3', { class: 'td-h', text: 'Compare versions' }),
    h('div', { class: 'diff-controls' },
      h('div', { class: 'field field--inline' }, h('label', { for: 'diff-from', text: 'From' }), fromSelect),
      h('div', { class: 'field field--inline' }, h('label', { for: 'diff-to', text: 'To' }), toSelect),
      compare),
    pre);
  if (latest) loadDiff(docId, fromDefault, latest.version, pre);
  $('doc-title').focus();
}

async function afterChange(message, reopenId) {
  toast(message, 'success');
  await loadDocs();
  if (reopenId) await openDoc(reopenId);
}

// ---------------------------------------------------------------- upload

function describeUploadError(item) {
  if (typeof item === 'string') return item;
  if (!item || typeof item !== 'object') return String(item);
  const name = item.filename || item.file || item.name || item.path || '';
  const why = item.detail || item.message || item.error || item.code || 'could not be imported';
  return name ? `${name}: ${why}` : String(why);
}

els.uploadForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const files = [...(els.uploadInput.files || [])];
  if (!files.length) {
    replaceChildren(els.uploadResult, h('p', { class: 'form-error', text: 'Choose one or more files first.' }));
    els.uploadInput.focus();
    return;
  }
  const form = new FormData();
  for (const file of files) form.append('files', file, file.name);
  if (els.uploadAudience.value) form.append('audience', els.uploadAudience.value);
  replaceChildren(els.uploadResult, h('p', { class: 'hint', text: `Uploading ${files.length} file(s)…` }));
  const result = await withBusy(els.uploadSubmit, () => state.api.request('POST', '/v1/knowledge/documents', { form }));
  if (!result) {
    replaceChildren(els.uploadResult);
    return;
  }
  const imported = result.imported || [];
  const errors = result.errors || [];
  replaceChildren(els.uploadResult,
    imported.length ? h('p', { class: 'ok', text: `Imported ${imported.length} document version(s):` }) : null,
    imported.length ? h('ul', { class: 'plain-list' }, imported.map((d) => {
      const open = h('button', { type: 'button', class: 'link-button', text: `${d.doc_id} v${d.version}` });
      open.addEventListener('click', () => openDoc(d.doc_id));
      return h('li', { dataset: { testid: 'upload-imported', docId: d.doc_id } }, open, ' ', badge(humanize(d.status), `status-${d.status}`));
    })) : null,
    errors.length ? h('p', { class: 'form-error', text: `${errors.length} file(s) were not imported:` }) : null,
    errors.length ? h('ul', { class: 'plain-list errors' }, errors.map((e) => h('li', { dataset: { testid: 'upload-error' }, text: describeUploadError(e) }))) : null);
  els.uploadForm.reset();
  await loadDocs();
});

// ---------------------------------------------------------------- search preview

function appendMarked(container, text) {
  for (const part of String(text || '').split(/(\[\d{1,3}\])/)) {
    if (!part) continue;
    container.appendChild(/^\[\d{1,3}\]$/.test(part) ? h('span', { class: 'ref', text: part }) : document.createTextNode(part));
  }
}

function renderAnswer(answer) {
  if (!answer) return h('div', { class: 'answer-card', dataset: { testid: 'search-answer' } }, h('p', { class: 'muted', text: 'No answer.' }));
  const conf = typeof answer.confidence === 'number' ? answer.confidence : null;
  const level = conf === null ? null : conf >= 0.75 ? 'high' : conf >= 0.5 ? 'medium' : 'low';
  const text = h('p', { class: 'answer-text' });
  appendMarked(text, answer.answer || '');
  const citations = Array.isArray(answer.citations) ? answer.citations : [];
  return h('div', { class: 'answer-card', dataset: { testid: 'search-answer', decision: answer.decision || '' } },
    h('div', { class: 'answer-head' },
      h('span', { class: 'answer-label', text: 'The customer would get' }),
      answer.decision ? badge(humanize(answer.decision), `decision-${answer.decision}`) : null,
      conf !== null ? h('span', { class: `conf-value conf--${level}`, dataset: { testid: 'search-confidence' }, text: `${Math.round(conf * 100)}% confidence` }) : null),
    answer.answer ? text : h('p', { class: 'muted', text: 'No answer text (the assistant would not answer this directly).' }),
    citations.length ? h('ol', { class: 'citations' }, citations.map((c) =>
      h('li', { text: `[${c.n ?? '?'}] ${c.title || c.doc_id} (v${c.version})` }))) : null);
}

els.searchForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const query = els.searchQuery.value.trim();
  const audiences = [...els.searchForm.querySelectorAll('input[name="audience"]:checked')].map((i) => i.value);
  if (!query) {
    els.searchQuery.focus();
    return;
  }
  if (!audiences.length) {
    replaceChildren(els.searchResults, h('p', { class: 'form-error', text: 'Pick at least one audience.' }));
    return;
  }
  replaceChildren(els.searchResults, h('p', { class: 'hint', text: 'Searching…' }));
  const result = await withBusy(els.searchSubmit, () => state.api.post('/v1/knowledge/search', { query, audiences }));
  if (!result) {
    replaceChildren(els.searchResults);
    return;
  }
  const hits = result.hits || [];
  replaceChildren(els.searchResults,
    renderAnswer(result.answer),
    h('h3', { class: 'td-h', text: `Retrieved passages (${hits.length})` }),
    hits.length
      ? h('ol', { class: 'hits' }, hits.map((hit) => {
        const body = String(hit.text || '');
        return h('li', { class: 'hit', dataset: { testid: 'search-hit', docId: hit.doc_id, version: hit.version } },
          h('div', { class: 'hit-head' },
            h('button', { type: 'button', class: 'link-button', text: hit.title || hit.doc_id, on: { click: () => openDoc(hit.doc_id) } }),
            h('span', { class: 'hit-meta', text: `v${hit.version}${typeof hit.score === 'number' ? ` · score ${hit.score.toFixed(3)}` : ''}` })),
          h('p', { class: 'hit-text', text: body.length > 500 ? `${body.slice(0, 500)}…` : body }));
      }))
      : h('p', { class: 'empty', text: 'Nothing found for these audiences.' }));
});

els.statusFilter.addEventListener('change', () => loadDocs());

initStaffShell({
  onSignedIn: ({ api }) => {
    state.api = api;
    state.active = true;
    loadDocs();
  },
  onSignedOut: () => {
    state.active = false;
    closeDoc();
    replaceChildren(els.reviewList);
    replaceChildren(els.docRows);
    replaceChildren(els.searchResults);
    replaceChildren(els.uploadResult);
  },
});
