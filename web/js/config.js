// config.js - where the dashboard finds the API.
//
// The base URL defaults to the page's own origin (the daemon serves both).
// To drive a daemon on another origin (one whose CORS settings allow this
// page), set it, in order of precedence:
//   1. the page's query string: index.html?api=http://127.0.0.1:8080
//      (remembered in localStorage for the next visits; ?api= with an empty
//      value forgets it),
//   2. the "API" settings dialog (also stored in localStorage),
//   3. <meta name="mlpd-api-base" content="..."> in index.html.
// An optional bearer token is sent as "Authorization: Bearer <token>".

const STORAGE_KEY = 'mlpd.api';

function readStored() {
  try {
    const v = JSON.parse(localStorage.getItem(STORAGE_KEY) || '{}');
    return v && typeof v === 'object' ? v : {};
  } catch {
    return {};
  }
}

// A base URL without a trailing slash; '' means the page's origin.
export function normaliseBase(base) {
  const s = String(base || '').trim();
  if (!s) return '';
  const url = new URL(s, location.href); // throws on garbage: callers report it
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('the API URL must be http or https');
  return url.href.replace(/\/+$/, '');
}

// {base, token} in force for this page load.
export function loadApiSettings() {
  const query = new URLSearchParams(location.search);
  if (query.has('api')) {
    const base = query.get('api');
    saveApiSettings({ ...readStored(), base });
  }
  const stored = readStored();
  const meta = document.querySelector('meta[name="mlpd-api-base"]');
  let base = stored.base || (meta && meta.content) || '';
  try {
    base = normaliseBase(base);
  } catch {
    base = '';
  }
  return { base, token: stored.token || '' };
}

export function saveApiSettings({ base, token }) {
  try {
    if (!base && !token) localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, JSON.stringify({ base: base || '', token: token || '' }));
  } catch {
    /* storage disabled: the setting lasts for this page only */
  }
}
