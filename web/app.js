// app.js - the dashboard's entry point: read the API settings, build the
// API client, route #/... to the views.
import { createApi } from './js/api.js';
import { loadApiSettings } from './js/config.js';
import { createRouter } from './js/router.js';
import { createSettingsDialog } from './js/settings.js';
import { mountJobsList } from './js/views/jobs-list.js';
import { mountJobDetail } from './js/views/job-detail.js';
import { mountTrainForm } from './js/views/train-form.js';
import { mountModelsList } from './js/views/models-list.js';
import { mountModelTry } from './js/views/model-try.js';
import { mountDatasets } from './js/views/datasets.js';
import { mountRegisteredModel } from './js/views/registered-model.js';
import { mountCompare } from './js/views/compare.js';
import { mountSweepsList } from './js/views/sweeps-list.js';
import { mountSweepDetail } from './js/views/sweep-detail.js';

const ROUTES = [
  { pattern: /^\/jobs\/?$/, section: 'jobs', title: () => 'Jobs', mount: mountJobsList },
  { pattern: /^\/jobs\/(\d+)$/, section: 'jobs', title: ([id]) => `Job ${id}`, mount: mountJobDetail },
  { pattern: /^\/new$/, section: 'new', title: () => 'New job', mount: mountTrainForm },
  { pattern: /^\/models\/?$/, section: 'models', title: () => 'Models', mount: mountModelsList },
  { pattern: /^\/models\/(\d+)$/, section: 'models', title: ([id]) => `Model ${id}`, mount: mountModelTry },
  { pattern: /^\/registry\/([A-Za-z][A-Za-z0-9._-]{0,63})$/, section: 'models', title: ([n]) => `Model ${n}`, mount: mountRegisteredModel },
  { pattern: /^\/sweeps\/?$/, section: 'sweeps', title: () => 'Sweeps', mount: mountSweepsList },
  { pattern: /^\/sweeps\/(\d+)$/, section: 'sweeps', title: ([id]) => `Sweep ${id}`, mount: mountSweepDetail },
  { pattern: /^\/compare$/, section: 'jobs', title: () => 'Compare jobs', mount: mountCompare },
  { pattern: /^\/datasets\/?$/, section: 'datasets', title: () => 'Datasets', mount: mountDatasets },
];

const settings = loadApiSettings();
const api = createApi(settings);
const dialog = createSettingsDialog(settings);

const apiLabel = document.getElementById('api-label');
apiLabel.textContent = settings.base ? `API: ${settings.base}` : 'API: this origin';
document.getElementById('api-settings').addEventListener('click', () => dialog.open());

const router = createRouter(ROUTES, {
  root: document.getElementById('view'),
  nav: document.getElementById('nav'),
  context: { api, navigate: (hash) => { location.hash = hash; } },
});
router.start();
