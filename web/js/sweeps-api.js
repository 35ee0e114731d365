// sweeps-api.js - the sweep routes of the REST API (docs/sweeps.md) and
// registering a model's file under a name, on top of api.js's client
// settings and errors.
import { ApiError } from './api.js';

// api: the client of createApi (its base, token and url are used).
export function createSweepsApi(api) {
  const auth = () => (api.token ? { Authorization: `Bearer ${api.token}` } : {});

  async function send(method, path, { body, type, signal } = {}) {
    const headers = { Accept: 'application/json, application/problem+json', ...auth() };
    if (type) headers['Content-Type'] = type;
    let res;
    try {
      res = await fetch(api.url(path), { method, headers, body, signal });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, null, `cannot reach the API (${e.message})`);
    }
    const isJson = /json/.test(res.headers.get('Content-Type') || '');
    const data = isJson ? await res.json().catch(() => null) : null;
    if (!res.ok) throw new ApiError(res.status, data, `${res.status} ${res.statusText}`.trim());
    return data;
  }

  return {
    async listSweeps({ limit = 50, offset = 0, status } = {}, opts = {}) {
      const q = new URLSearchParams({ limit: String(limit), offset: String(offset) });
      if (status) q.set('status', status);
      const data = await send('GET', `/sweeps?${q}`, opts);
      return { sweeps: (data && data.sweeps) || [], total: data ? data.total : 0 };
    },
    getSweep: (id, opts = {}) => send('GET', `/sweeps/${encodeURIComponent(id)}`, opts),
    cancelSweep: (id) => send('POST', `/sweeps/${encodeURIComponent(id)}/cancel`),
    createSweep: (body) => send('POST', '/sweeps', { body: JSON.stringify(body), type: 'application/json' }),
    eventsUrl: (id) => api.url(`/sweeps/${encodeURIComponent(id)}/events`),
    // Register model `id` as the next version of `name` (the registry's
    // POST /models?name=, with the model's own file): resolves to the new Model.
    async registerModel(id, name) {
      const res = await fetch(api.modelFileUrl(id), { headers: auth() });
      if (!res.ok) throw new ApiError(res.status, null, `cannot read model ${id}'s file (${res.status})`);
      const bytes = await res.arrayBuffer();
      return send('POST', `/models?name=${encodeURIComponent(name)}`,
        { body: bytes, type: 'application/octet-stream' });
    },
  };
}
