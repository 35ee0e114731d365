// api.js - the daemon's REST API as promises.
//
// Errors: every non-2xx answer throws an ApiError carrying the RFC 9457
// problem document when the daemon sent one (application/problem+json:
// {type, title, status, detail, pointer?}); a network failure throws an
// ApiError with status 0. Readers of list answers are tolerant of the
// envelope ({"jobs": [...]} or a bare array) while the API settles.

export const METRICS_PAGE = 1000;

export class ApiError extends Error {
  constructor(status, problem, fallback) {
    const p = problem && typeof problem === 'object' ? problem : {};
    // Problems (mlpd's routes) carry detail; the v2/v1 protocols {"error"}.
    super(p.detail || p.error || p.title || fallback || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = p;
  }

  // JSON pointers ("/epochs") of the fields to blame: the problem's
  // "pointer" member, plus those of an "errors" array if it lists several.
  get pointers() {
    const out = [];
    if (typeof this.problem.pointer === 'string' && this.problem.pointer) out.push(this.problem.pointer);
    if (Array.isArray(this.problem.errors)) {
      for (const e of this.problem.errors) if (e && typeof e.pointer === 'string') out.push(e.pointer);
    }
    return out;
  }
}

function listOf(body, key) {
  if (Array.isArray(body)) return body;
  if (body && Array.isArray(body[key])) return body[key];
  if (body && Array.isArray(body.items)) return body.items;
  return [];
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

// settings: {base, token} from config.js.
export function createApi({ base = '', token = '' } = {}) {
  const url = (path) => `${base}${path}`;

  // body: a value sent as JSON, or {raw, type} sent as it is (an upload).
  async function request(method, path, body, { signal } = {}) {
    const headers = { Accept: 'application/json, application/problem+json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const raw = body && body.raw !== undefined;
    if (body !== undefined) headers['Content-Type'] = raw ? body.type : 'application/json';
    let res;
    try {
      res = await fetch(url(path), {
        method, headers, signal, body: body === undefined ? undefined : (raw ? body.raw : JSON.stringify(body)),
      });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, null, `cannot reach the API at ${base || location.origin} (${e.message})`);
    }
    const type = res.headers.get('Content-Type') || '';
    let data = null;
    if (/json/.test(type)) {
      try { data = await res.json(); } catch { data = null; }
    } else {
      await res.text().catch(() => '');
    }
    if (!res.ok) throw new ApiError(res.status, data, `${res.status} ${res.statusText}`.trim());
    return { status: res.status, data, headers: res.headers };
  }

  const get = async (path, opts) => (await request('GET', path, undefined, opts)).data;

  return {
    base,
    token,
    url,
    // A page of jobs, newest first; `next` is the cursor of the page after it (null: the last).
    async listJobs({ limit = 50, offset, status, cursor } = {}, opts) {
      const data = await get(`/jobs${query({ limit, offset, status, cursor })}`, opts);
      return { jobs: listOf(data, 'jobs'), total: data && Number.isFinite(data.total) ? data.total : null,
        next: data && typeof data.next === 'string' ? data.next : null };
    },
    getJob: (id, opts) => get(`/jobs/${encodeURIComponent(id)}`, opts).then((d) => (d && d.job) || d),
    // Up to METRICS_PAGE metrics with id > since, oldest first.
    async jobMetrics(id, since = 0, opts) {
      const q = query({ since, limit: METRICS_PAGE });
      return listOf(await get(`/jobs/${encodeURIComponent(id)}/metrics${q}`, opts), 'metrics');
    },
    cancelJob: (id) => request('POST', `/jobs/${encodeURIComponent(id)}/cancel`, undefined),
    // Resolves to the new job's id (from the body, else the Location header).
    async train(body) {
      const res = await request('POST', '/train', body);
      const job = (res.data && (res.data.job || res.data)) || {};
      let id = job.id;
      if (id === undefined) {
        const m = /\/jobs\/(\d+)/.exec(res.headers.get('Location') || '');
        if (m) id = Number(m[1]);
      }
      return { id, job };
    },
    eventsUrl: (id) => url(`/jobs/${encodeURIComponent(id)}/events`),
    async listModels({ limit = 100 } = {}, opts) {
      return listOf(await get(`/models${query({ limit })}`, opts), 'models');
    },
    getModel: (id, opts) => get(`/models/${encodeURIComponent(id)}`, opts).then((d) => (d && d.model) || d),
    modelFileUrl: (id) => url(`/models/${encodeURIComponent(id)}/file`),
    // The registry: a name's versions (oldest first), aliases and canary.
    getRegisteredModel: (name, opts) => get(`/models/${encodeURIComponent(name)}`, opts),
    setAlias: (name, alias, version) => request('PUT',
      `/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`, { version: Number(version) }),
    deleteAlias: (name, alias) => request('DELETE',
      `/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`),
    setCanary: (name, version, percent) => request('PUT', `/models/${encodeURIComponent(name)}/canary`,
      { version: Number(version), percent: Number(percent) }),
    deleteCanary: (name) => request('DELETE', `/models/${encodeURIComponent(name)}/canary`),
    // Serving statistics per version (the v2 statistics extension).
    async modelStats(name, opts) {
      const data = await get(`/v2/models/${encodeURIComponent(name)}/stats`, opts);
      return listOf(data, 'model_stats');
    },
    // One 784-vector (or any width): resolves to {label, probabilities}.
    async predict(modelId, input) {
      const body = { input: Array.from(input) };
      if (modelId) body.model = Number(modelId);
      const data = (await request('POST', '/predict', body)).data || {};
      const first = Array.isArray(data.predictions) ? data.predictions[0] : data;
      return { model: data.model, label: first.label, probabilities: first.probabilities || [] };
    },
    // Attributions of one input (POST /explain): resolves to {label,
    // probabilities, target, attributions, convergence_delta?, method, output}.
    async explain(modelId, input, { method, output, target } = {}, opts) {
      const body = { input: Array.from(input) };
      if (modelId) body.model = Number(modelId);
      if (method) body.method = method;
      if (output) body.output = output;
      if (Number.isInteger(target)) body.target = target;
      const data = (await request('POST', '/explain', body, opts)).data || {};
      const first = Array.isArray(data.predictions) ? data.predictions[0] : {};
      return { ...first, method: data.method, output: data.output };
    },
    getEvaluation: (id, opts) => get(`/models/${encodeURIComponent(id)}/evaluation`, opts),
    // Rows `indices` of a data set's split (GET .../samples?index=).
    async datasetRows(name, split, indices, opts) {
      const q = query({ split, index: indices.join(',') });
      return listOf(await get(`/datasets/${encodeURIComponent(name)}/samples${q}`, opts), 'samples');
    },
    async listDatasets(opts) {
      return listOf(await get('/datasets', opts), 'datasets');
    },
    getDataset: (name, opts) => get(`/datasets/${encodeURIComponent(name)}`, opts),
    // A CSV file or text as data set `name`; classes: "a,b,c" or ''.
    uploadCsv: async (name, csv, classes) => (await request('POST',
      `/datasets${query({ name, classes })}`, { raw: csv, type: 'text/csv' })).data,
    deleteDataset: (name) => request('DELETE', `/datasets/${encodeURIComponent(name)}`),
    deleteModel: (id) => request('DELETE', `/models/${encodeURIComponent(id)}`),
    async datasetSamples(name, n = 8, opts) {
      return listOf(await get(`/datasets/${encodeURIComponent(name)}/samples${query({ n })}`, opts), 'samples');
    },
  };
}
