// Demo host page behaviour (not part of the widget): example-question chips and the signed-in badge.

const widgetScript = document.querySelector('script[data-grounddesk-url]');
const customerId = (widgetScript?.getAttribute('data-customer-id') || '').trim();
const signedIn = Boolean(customerId) && !/^\{\{.*\}\}$/.test(customerId);

if (!signedIn) {
  // Anonymous visitor: the server did not inject a verified identity.
  const name = document.querySelector('.account-name');
  const avatar = document.querySelector('.account-avatar');
  const note = document.querySelector('.try-copy .muted');
  if (name) name.textContent = 'Guest';
  if (avatar) avatar.textContent = '?';
  if (note) note.textContent = '(browsing as a guest: order look-ups need a signed-in customer)';
}

document.addEventListener('click', (event) => {
  const target = event.target instanceof Element ? event.target.closest('[data-ask]') : null;
  if (!target) return;
  const widget = window.grounddeskWidget;
  // A failure to reach the service is shown inside the widget itself.
  if (widget) widget.send(target.getAttribute('data-ask') || '').catch(() => {});
});
