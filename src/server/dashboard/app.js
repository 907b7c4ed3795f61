// The Quern dashboard: wires the views to the API and the event stream.
//
// Everything on the page comes from a few cheap requests: GET /api/v1/stats (counts the
// store keeps), one page of 50 jobs per list, the throughput buckets, the cron entries
// (few: they are written by hand). Events ask for a
// refresh; refreshes run at most once a second however many events arrive, and a
// progress event moves its bar in place without any request.

import { ApiError, api, askForToken } from './api.js';
import { Actions } from './actions.js';
import { ThroughputChart } from './chart.js';
import { CronTable } from './cron.js';
import { byId } from './dom.js';
import { connectEvents } from './events.js';
import { formatCount, formatDuration, formatRelative } from './format.js';
import { JobDetail } from './job_detail.js';
import { JobList, MAX_LISTED_PAYLOAD_BYTES, PAGE_SIZE } from './job_list.js';
import { notify } from './notify.js';
import { QueueTable, StateTiles } from './overview.js';
import { RunningJobs } from './running.js';
import { throttle } from './throttle.js';

const REFRESH_MS = 1000;
const CHART_REFRESH_MS = 5000;
const CHART_ROLL_MS = 30000;  // the chart's window moves on even when nothing happens
const IDLE_REFRESH_MS = 15000;  // a safety net should an event be missed

const connection = byId('connection');
let lastErrorMessage = '';

function setConnection(status, detail = '') {
  const labels = { live: 'live', reconnecting: 'reconnecting…', 'signed-out': 'token needed', error: 'error' };
  connection.dataset.status = status;
  connection.querySelector('.label').textContent = labels[status] || status;
  connection.title = detail;
}

function reportError(error) {
  if (error instanceof ApiError && error.status === 401) {
    setConnection('signed-out');
    return;
  }
  const message = error && error.message ? error.message : String(error);
  if (message !== lastErrorMessage) {
    lastErrorMessage = message;
    notify(`Could not refresh: ${message}`, 'error');
  }
}

const refresh = throttle(async () => {
  await Promise.all([loadStats(), loadRunning(), loadCron(), list.reload(), detail.reload()]);
  lastErrorMessage = '';
}, REFRESH_MS, reportError);

const refreshChart = throttle(async () => {
  const answer = await api('GET', '/api/v1/throughput?minutes=60');
  chart.update(answer.buckets || []);
}, CHART_REFRESH_MS, reportError);


const actions = new Actions((options) => refresh(options));
const tiles = new StateTiles(byId('tiles'), (state) => {
  list.setTab(state);
  byId('jobs-card').scrollIntoView({ behavior: 'smooth', block: 'start' });
});
const queues = new QueueTable(byId('queues-body'), {
  actions,
  onPick: (queue) => {
    list.setFilter({ queue });
    byId('jobs-card').scrollIntoView({ behavior: 'smooth', block: 'start' });
  },
});
const running = new RunningJobs(byId('running-body'), byId('running-count'), { actions });
const chart = new ThroughputChart(byId('chart'), byId('chart-summary'));
const cron = new CronTable(byId('cron-card'), byId('cron-body'), byId('cron-count'));
const list = new JobList({
  tabs: byId('tabs'), thead: byId('jobs-head'), tbody: byId('jobs-body'), queueSelect: byId('filter-queue'),
  typeInput: byId('filter-type'), tagInput: byId('filter-tag'), toolbarActions: byId('list-actions'),
  pageInfo: byId('page-info'), newer: byId('newer'), older: byId('older'),
}, { actions });
list.onTabChange = (tab) => tiles.setActive(tab);
tiles.setActive(list.filter.tab);
const detail = new JobDetail(byId('detail'), { actions, onClose: closeDetail });

async function loadStats() {
  const stats = await api('GET', '/api/v1/stats');
  const totals = stats.states || {};
  tiles.update(totals);
  queues.update(stats.queues || []);
  list.setStats(stats);
  running.setTotal(Number(totals.running) || 0);
  // A background tab still tells how many jobs are running.
  const runningCount = Number(totals.running) || 0;
  const title = runningCount > 0 ? `(${formatCount(runningCount)} running) Quern` : 'Quern';
  if (document.title !== title) document.title = title;
}

async function loadCron() {
  const answer = await api('GET', '/api/v1/cron');
  cron.update(answer.cron || []);
}

async function loadRunning() {
  const answer = await api('GET', `/api/v1/jobs?state=running&limit=${PAGE_SIZE}&order=desc&max_payload_bytes=${MAX_LISTED_PAYLOAD_BYTES}`);
  running.update(answer.jobs || []);
}

// #job/ID opens a job's panel; anything else closes it.
function route() {
  const match = /^#job\/(\d+)$/.exec(location.hash);
  if (match) detail.open(Number(match[1]));
  else detail.close();
}

function closeDetail() {
  if (location.hash) history.pushState(null, '', location.pathname + location.search);
  route();
}

// A click anywhere on a job's row opens it (buttons and links in it do their own thing).
function openRowOnClick(tbody) {
  tbody.addEventListener('click', (event) => {
    if (event.target.closest('button, a, input, select')) return;
    if (window.getSelection().toString()) return;  // selecting text, not opening
    const row = event.target.closest('tr[data-href]');
    if (row) location.hash = row.dataset.href;
  });
}

// Relative times ("12s ago") and running times tick once a second.
function tick() {
  const now = Date.now();
  for (const node of document.querySelectorAll('[data-at]')) {
    const text = formatRelative(node.dataset.at, now);
    if (node.textContent !== text) node.textContent = text;
  }
  for (const node of document.querySelectorAll('[data-since]')) {
    const text = formatDuration(now - Date.parse(node.dataset.since));
    if (node.textContent !== text) node.textContent = text;
  }
}

function onEvent(type, data) {
  if (type === 'progress') {
    const id = Number(data.job_id);
    if (!running.setProgress(id, data.progress, data.stage)) refresh();
    detail.setProgress(id, data.progress, data.stage);
  } else if (type === 'job') {
    refresh();
    if (data.to === 'completed' || data.to === 'failed') refreshChart();
  } else if (type === 'queue') {
    refresh();
  }
}

openRowOnClick(byId('running-body'));
openRowOnClick(byId('jobs-body'));
window.addEventListener('hashchange', route);
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && detail.isOpen() && !document.querySelector('dialog[open]')) closeDetail();
});
byId('sign-in').addEventListener('click', () => {
  askForToken({ force: true }).then(() => {
    refresh({ soon: true });
    refreshChart({ soon: true });
  }, () => {});
});
setInterval(tick, 1000);
setInterval(() => refreshChart(), CHART_ROLL_MS);
setInterval(() => refresh(), IDLE_REFRESH_MS);

route();
refresh({ soon: true });
refreshChart({ soon: true });
connectEvents({
  onEvent,
  onStatus: (status) => setConnection(status),
  onReconnect: () => {
    refresh({ soon: true });
    refreshChart({ soon: true });
  },
});
