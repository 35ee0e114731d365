// settings.js - the "API" dialog: the base URL of the daemon this page
// drives (blank: this page's origin) and an optional bearer token. Saving
// reloads the page so every view starts over against the new API.
import { h } from './dom.js';
import { normaliseBase, saveApiSettings } from './config.js';

export function createSettingsDialog(current) {
  const base = h('input', { id: 'api-base', type: 'url', value: current.base, placeholder: location.origin,
    autocomplete: 'url', 'aria-describedby': 'api-base-hint api-base-err' });
  const token = h('input', { id: 'api-token', type: 'password', value: current.token, autocomplete: 'off',
    'aria-describedby': 'api-token-hint' });
  const error = h('p', { class: 'field-error', id: 'api-base-err', hidden: true });
  const dialog = h('dialog', { class: 'settings', 'aria-labelledby': 'settings-title' },
    h('form', { method: 'dialog', novalidate: true },
      h('h2', { id: 'settings-title', text: 'API' }),
      h('div', { class: 'field' },
        h('label', { for: 'api-base', text: 'API base URL' }), base,
        h('p', { class: 'field-hint', id: 'api-base-hint',
          text: 'Blank: this page\'s origin. Another origin must allow this page (the daemon\'s CORS setting).' }),
        error),
      h('div', { class: 'field' },
        h('label', { for: 'api-token', text: 'Bearer token (optional)' }), token,
        h('p', { class: 'field-hint', id: 'api-token-hint', text: 'Sent as Authorization: Bearer. Stored in this browser.' })),
      h('div', { class: 'form-actions' },
        h('button', { type: 'submit', value: 'save', class: 'btn btn-primary', text: 'Save' }),
        h('button', { type: 'submit', value: 'cancel', class: 'btn', text: 'Cancel', formnovalidate: true }))));

  dialog.addEventListener('close', () => {
    if (dialog.returnValue !== 'save') return;
    try {
      const b = normaliseBase(base.value);
      saveApiSettings({ base: b, token: token.value.trim() });
      // Drop a ?api= that would override what was just saved.
      const url = new URL(location.href);
      url.searchParams.delete('api');
      if (url.href !== location.href) location.replace(url.href);
      else location.reload();
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      base.setAttribute('aria-invalid', 'true');
      dialog.showModal();
    }
  });
  document.body.append(dialog);
  return { open: () => { error.hidden = true; dialog.showModal(); base.focus(); } };
}
