// Builds the DOM of one chat event for the widget. Server text is only ever set through text nodes: markup in an
// answer (<img>, <script>, markdown images) shows as the characters it is. The only elements made from answer text
// are links, and only for http(s) URLs the allowlist accepts (ctx.resolveHref); every other URL stays text.

import { formatTime, h } from './dom.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const ICONS = {
  chat: 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z',
  close: 'M6 6l12 12M18 6L6 18',
  send: 'M3 11.5L21 3l-8.5 18-2.2-7.3L3 11.5z',
  up: 'M7 10v11H3V10h4zm2 11h8.3a2 2 0 0 0 2-1.6l1.4-7A2 2 0 0 0 18.7 10H14l.8-4.2A1.7 1.7 0 0 0 11.9 4L9 10v11z',
  down: 'M17 14V3h4v11h-4zm-2-11H6.7a2 2 0 0 0-2 1.6l-1.4 7A2 2 0 0 0 5.3 14H10l-.8 4.2a1.7 1.7 0 0 0 2.9 1.8L15 14V3z',
  person: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7 9a7 7 0 0 1 14 0',
  doc: 'M6 2h8l4 4v16H6zM14 2v4h4M9 12h6M9 16h6',
};

/**
 * An inline SVG icon (decorative: aria-hidden).
 * @param {keyof ICONS} name
 * @returns {SVGSVGElement}
 */
export function icon(name) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `gd-icon gd-icon--${name}`);
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', ICONS[name]);
  svg.appendChild(path);
  return svg;
}

const CONFIDENCE_TEXT = {
  high: 'High confidence',
  medium: 'Medium confidence',
  low: 'Low confidence — a person may follow up',
};

/**
 * The label level for an event: its confidence_label, or one derived from the numeric confidence.
 * @param {object} ev
 * @returns {'high'|'medium'|'low'|null}
 */
export function confidenceLevel(ev) {
  if (ev.confidence_label && CONFIDENCE_TEXT[ev.confidence_label]) return ev.confidence_label;
  if (typeof ev.confidence !== 'number') return null;
  if (ev.confidence >= 0.75) return 'high';
  if (ev.confidence >= 0.5) return 'medium';
  return 'low';
}

// An http(s) URL in running text, without the punctuation that usually ends the sentence around it.
const URL_IN_TEXT = /(https?:\/\/[^\s<>"'`]*[^\s<>"'`.,;:!?)\]])/i;

/**
 * Append text, turning allowed http(s) URLs into links (new tab, no referrer) and leaving everything else text.
 * @param {HTMLElement} container
 * @param {string} text
 * @param {(url: string) => (string|null)} linkHref The allowlist: an href, or null to keep the URL as text.
 */
function appendLinkified(container, text, linkHref) {
  const pieces = text.split(URL_IN_TEXT);
  pieces.forEach((piece, i) => {
    if (!piece) return;
    const href = i % 2 === 1 ? linkHref(piece) : null; // odd pieces are the URLs the split captured
    if (href) {
      container.appendChild(
        h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow', class: 'gd-link', dataset: { testid: 'gd-link' } }, piece),
      );
    } else {
      container.appendChild(document.createTextNode(piece));
    }
  });
}

/**
 * Append text to a container, wrapping citation markers "[n]" in spans and allowed URLs in links (all else text).
 * @param {HTMLElement} container
 * @param {string} text
 * @param {Map<number, object>} citations by n
 * @param {(url: string) => (string|null)} [linkHref] The link allowlist; by default no links at all.
 */
export function appendRichText(container, text, citations, linkHref = () => null) {
  const parts = String(text || '').split(/(\[\d{1,3}\])/);
  for (const part of parts) {
    if (!part) continue;
    const match = /^\[(\d{1,3})\]$/.exec(part);
    if (match) {
      const citation = citations.get(Number(match[1]));
      container.appendChild(
        h('span', { class: 'gd-ref', title: citation ? `Source: ${citation.title || 'document'}` : null }, part),
      );
    } else {
      appendLinkified(container, part, linkHref);
    }
  }
}

function uniqueCitations(list) {
  const byN = new Map();
  for (const c of Array.isArray(list) ? list : []) {
    if (!c || typeof c !== 'object') continue;
    const n = Number(c.n);
    const key = Number.isFinite(n) ? n : byN.size + 1;
    if (!byN.has(key)) byN.set(key, c);
  }
  return new Map([...byN.entries()].sort((a, b) => a[0] - b[0]));
}

function buildSources(citations, ctx) {
  if (!citations.size) return null;
  const items = [];
  for (const [n, c] of citations) {
    const title = c.title || c.doc_id || `Source ${n}`;
    const href = ctx.resolveHref(c.url);
    const label = [h('span', { class: 'gd-src-n', text: `[${n}]` }), ' ', h('span', { text: title })];
    const link = href
      ? h(
          'a',
          {
            href,
            target: '_blank',
            rel: 'noopener noreferrer',
            class: 'gd-src-link',
            dataset: { testid: 'gd-citation', docId: c.doc_id, version: c.version },
          },
          label,
          h('span', { class: 'gd-sr', text: ' (opens in a new tab)' }),
        )
      : h('span', { class: 'gd-src-link', dataset: { testid: 'gd-citation', docId: c.doc_id } }, label);
    items.push(h('li', {}, link));
  }
  return h('div', { class: 'gd-sources' }, h('p', { class: 'gd-sources-title', text: 'Sources' }), h('ol', {}, items));
}

function buildConfidence(ev) {
  const level = confidenceLevel(ev);
  if (!level) return null;
  const reasons = Array.isArray(ev.reasons) ? ev.reasons.filter((r) => typeof r === 'string' && r) : [];
  const pct = typeof ev.confidence === 'number' ? ` (${Math.round(ev.confidence * 100)}%)` : '';
  const label = h('span', {
    class: 'gd-conf-label',
    title: reasons.length ? reasons.join('\n') : null,
    text: CONFIDENCE_TEXT[level],
  });
  const details = reasons.length
    ? h(
        'details',
        { class: 'gd-why' },
        h('summary', { text: 'Why?' }),
        h('p', { class: 'gd-why-score', text: `Confidence${pct || ''}` }),
        h('ul', {}, reasons.map((r) => h('li', { text: r }))),
      )
    : null;
  return h(
    'div',
    { class: `gd-confidence gd-confidence--${level}`, dataset: { testid: 'gd-confidence', level } },
    h('span', { class: 'gd-conf-dot', 'aria-hidden': 'true' }),
    label,
    details,
  );
}

function buildFeedback(ev, ctx) {
  const seq = ev.seq;
  const status = h('span', { class: 'gd-fb-status', role: 'status' });
  const up = h('button', {
    type: 'button',
    class: 'gd-thumb',
    'aria-label': 'Helpful',
    title: 'Helpful',
    'aria-pressed': 'false',
    dataset: { testid: 'gd-thumb-up' },
  });
  up.appendChild(icon('up'));
  const down = h('button', {
    type: 'button',
    class: 'gd-thumb',
    'aria-label': 'Not helpful',
    title: 'Not helpful',
    'aria-pressed': 'false',
    dataset: { testid: 'gd-thumb-down' },
  });
  down.appendChild(icon('down'));
  const commentBox = h('textarea', {
    class: 'gd-fb-text',
    rows: '2',
    maxlength: '1000',
    dataset: { testid: 'gd-feedback-comment' },
  });
  const commentId = `gd-fbc-${seq}`;
  commentBox.id = commentId;
  const commentForm = h(
    'form',
    { class: 'gd-fb-form', hidden: true },
    h('label', { for: commentId, text: 'What was missing or wrong? (optional)' }),
    commentBox,
    h('button', { type: 'submit', class: 'gd-btn gd-btn--small', dataset: { testid: 'gd-feedback-submit' } }, 'Send'),
  );

  const setPressed = (rating) => {
    up.setAttribute('aria-pressed', String(rating === 'up'));
    down.setAttribute('aria-pressed', String(rating === 'down'));
  };
  setPressed(ctx.feedbackFor(seq));

  const rate = async (rating, comment) => {
    const previous = ctx.feedbackFor(seq);
    setPressed(rating);
    try {
      await ctx.onFeedback(seq, rating, comment);
      status.textContent = rating === 'up' || comment ? 'Thanks for the feedback.' : '';
      return true;
    } catch (err) {
      setPressed(previous);
      status.textContent = ctx.errorText(err);
      return false;
    }
  };
  up.addEventListener('click', async () => {
    if (up.getAttribute('aria-pressed') === 'true') return;
    commentForm.hidden = true;
    await rate('up');
  });
  down.addEventListener('click', async () => {
    if (down.getAttribute('aria-pressed') === 'true') {
      commentForm.hidden = !commentForm.hidden;
      return;
    }
    if (await rate('down')) {
      commentForm.hidden = false;
      commentBox.focus();
    }
  });
  commentForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const comment = commentBox.value.trim();
    if (!comment) {
      commentForm.hidden = true;
      return;
    }
    if (await rate('down', comment)) commentForm.hidden = true;
  });
  return h(
    'div',
    { class: 'gd-feedback' },
    h('div', { class: 'gd-thumbs', role: 'group', 'aria-label': 'Was this answer helpful?' }, up, down),
    status,
    commentForm,
  );
}

function buildContactForm(ctx) {
  const uid = `gd-contact-${Math.random().toString(36).slice(2, 8)}`;
  const field = (name, label, control) => {
    control.id = `${uid}-${name}`;
    control.name = name;
    return h('div', { class: 'gd-field' }, h('label', { for: control.id, text: label }), control);
  };
  const name = h('input', { type: 'text', autocomplete: 'name', maxlength: '200', dataset: { testid: 'gd-contact-name' } });
  const email = h('input', {
    type: 'email',
    autocomplete: 'email',
    required: true,
    maxlength: '254',
    dataset: { testid: 'gd-contact-email' },
  });
  const message = h('textarea', { rows: '3', maxlength: '4000', dataset: { testid: 'gd-contact-message' } });
  const error = h('p', { class: 'gd-form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'gd-btn', dataset: { testid: 'gd-contact-submit' } }, 'Send');
  const form = h(
    'form',
    { class: 'gd-contact', dataset: { testid: 'gd-contact-form' }, 'aria-label': 'Leave your contact details' },
    field('name', 'Name', name),
    field('email', 'Email', email),
    field('message', 'How can we help? (optional)', message),
    error,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    const body = { name: name.value.trim(), email: email.value.trim(), message: message.value.trim() };
    for (const key of Object.keys(body)) if (!body[key]) delete body[key];
    try {
      await ctx.onContact(body);
      const thanks = body.name ? `Thanks, ${body.name}.` : 'Thanks.';
      form.replaceWith(
        h('p', {
          class: 'gd-contact-done',
          role: 'status',
          text: `${thanks} We'll get back to you at ${body.email} as soon as someone is available.`,
        }),
      );
    } catch (err) {
      error.textContent = ctx.errorText(err);
      submit.disabled = false;
    }
  });
  return form;
}

/**
 * Build the element for a displayable event (not token/typing).
 *
 * @param {object} ev Event from the service.
 * @param {object} ctx Callbacks: resolveHref(url), feedbackFor(seq), onFeedback(seq, rating, comment),
 *   onContact(body), errorText(err).
 * @returns {HTMLElement|null}
 */
export function buildMessage(ev, ctx) {
  const type = ev.type;
  const base = {
    dataset: { testid: 'gd-msg', type, seq: ev.seq ?? undefined },
    title: ev.at ? formatTime(ev.at) : null,
  };
  if (type === 'customer_message') {
    return h(
      'div',
      { ...base, class: 'gd-msg gd-msg--customer' },
      h('span', { class: 'gd-sr', text: 'You said: ' }),
      h('div', { class: 'gd-bubble', text: ev.text || '', dataset: { testid: 'gd-text' } }),
    );
  }
  if (type === 'returned_to_bot' || type === 'error' || type === 'notice') {
    const fallback =
      type === 'error'
        ? 'Sorry, something went wrong on our side. Please try again in a moment.'
        : "You're chatting with the assistant again.";
    return h('div', { ...base, class: `gd-msg gd-msg--system gd-msg--${type}` }, h('p', { text: ev.text || fallback }));
  }
  if (type === 'agent_message') {
    const name = ev.agent_name || 'Support team';
    const initials = name
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 2)
      .map((w) => w[0].toUpperCase())
      .join('');
    return h(
      'div',
      { ...base, class: 'gd-msg gd-msg--agent', dataset: { ...base.dataset, agent: name } },
      h('div', { class: 'gd-author' }, h('span', { class: 'gd-avatar', 'aria-hidden': 'true', text: initials || '?' }),
        h('span', { class: 'gd-author-name', text: name }), h('span', { class: 'gd-author-role', text: 'Support team' })),
      h('div', { class: 'gd-bubble', text: ev.text || '', dataset: { testid: 'gd-text' } }),
    );
  }
  if (type === 'answer' || type === 'clarify' || type === 'handoff' || type === 'no_agent' || type === 'greeting') {
    const citations = uniqueCitations(ev.citations);
    const bubble = h('div', { class: 'gd-bubble', dataset: { testid: 'gd-text' } });
    appendRichText(bubble, ev.text || '', citations, (url) => ctx.resolveHref(url));
    const el = h(
      'div',
      { ...base, class: `gd-msg gd-msg--bot gd-msg--${type}` },
      h('span', { class: 'gd-sr', text: 'Assistant: ' }),
      bubble,
    );
    if (type === 'answer' || type === 'clarify') {
      const sources = buildSources(citations, ctx);
      if (sources) el.appendChild(sources);
    }
    if (type === 'answer') {
      const meta = h('div', { class: 'gd-meta' }, buildConfidence(ev), ev.seq != null ? buildFeedback(ev, ctx) : null);
      el.appendChild(meta);
    }
    if (type === 'no_agent') el.appendChild(buildContactForm(ctx));
    return el;
  }
  return null;
}

/**
 * The bubble that collects streamed "token" pieces until the final answer replaces it.
 * @returns {{el: HTMLElement, append: (text: string) => void}}
 */
export function buildStreaming() {
  const bubble = h('div', { class: 'gd-bubble' });
  const text = document.createTextNode('');
  bubble.appendChild(text);
  bubble.appendChild(h('span', { class: 'gd-caret', 'aria-hidden': 'true' }));
  const el = h('div', { class: 'gd-msg gd-msg--bot gd-msg--streaming', dataset: { testid: 'gd-streaming' } }, bubble);
  return {
    el,
    append(piece) {
      text.data += String(piece || '');
    },
  };
}
