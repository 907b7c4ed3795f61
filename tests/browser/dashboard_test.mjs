// Browser tests of the Quern dashboard: a real `quern serve` (started by run.sh) and a
// real headless Chromium. Each test drives the page the way a person would (clicks,
// no reloads) and checks what the page shows against what the API says.
//
// Environment (set by run.sh): QUERN_URL, QUERN_SERVER_PID, QUERN_TOKEN_URL,
// QUERN_TOKEN_SERVER_PID, QUERN_TOKEN, QUERN_WORK_DIR, QUERN_SCREENSHOT_DIR, QUERN_CHROMIUM.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests/browser/run.sh BUILD_DIR`);
  return value;
};
const BASE = env('QUERN_URL');
const TOKEN_BASE = env('QUERN_TOKEN_URL');
const TOKEN = env('QUERN_TOKEN');
const WORK = env('QUERN_WORK_DIR');
const SHOTS = env('QUERN_SCREENSHOT_DIR');
const WAIT_MS = 15000;

let browser;
let page;
const consoleErrors = [];

// --- helpers -----------------------------------------------------------------------

async function api(method, path, body, { base = BASE, token = null } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return json;
}

const enqueue = (job) => api('POST', '/api/v1/jobs', job);
const getJob = (id) => api('GET', `/api/v1/jobs/${id}`);

// Polls `check` until it returns a truthy value; fails with `what` after the deadline.
async function eventually(what, check, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function waitForServer(base, pidVariable) {
  const pid = Number(env(pidVariable));
  await eventually(`quern serve at ${base}`, async () => {
    try {
      process.kill(pid, 0);
    } catch {
      throw new Error(`quern serve (pid ${pid}) exited; see its log`);
    }
    const response = await fetch(`${base}/healthz`).catch(() => null);
    return response && response.ok;
  }, 20000);
}

function watchConsole(target) {
  target.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(`${message.text()} (${message.location().url})`);
  });
  target.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
}

async function openDashboard(context, base = BASE) {
  const opened = await context.newPage();
  watchConsole(opened);
  await opened.goto(base);
  return opened;
}

const jobRow = (id) => page.locator(`#jobs-body tr[data-job-id="${id}"]`);
const runningRow = (id) => page.locator(`#running-body tr[data-job-id="${id}"]`);

async function showTab(tab, queue = '') {
  await page.click(`#tabs [data-tab="${tab}"]`);
  await page.selectOption('#filter-queue', queue);
}

// The ids of the rows the jobs list shows, ascending.
async function listedIds() {
  const ids = await page.locator('#jobs-body tr[data-job-id]').evaluateAll(
    (rows) => rows.map((row) => Number(row.dataset.jobId)));
  return ids.sort((a, b) => a - b);
}

const sameIds = (shown, expected) => JSON.stringify(shown) === JSON.stringify([...expected].sort((a, b) => a - b));

// A section of the job panel by its heading ("Result", "Checkpoint", "Error").
const detailSection = (title) =>
  page.locator('#detail section.detail-section').filter({ has: page.locator(`h3:text-is("${title}")`) });

async function closeDetail() {
  await page.keyboard.press('Escape');
  await page.waitForSelector('#detail', { state: 'hidden' });
}

async function tileCount(state) {
  const text = await page.textContent(`#tiles [data-state="${state}"] .tile-count`);
  return Number(text.replaceAll(',', ''));
}

// A shell job that reports progress 0.3, then 0.6, each time waiting for the test to
// create the next step file, so the test sets the pace without sleeping.
function steppedJob(name) {
  const dir = join(WORK, name);
  const script = [
    `mkdir -p ${dir}`,
    'echo "::stage download"', 'echo "::progress 0.3"',
    `while [ ! -f ${dir}/step1 ]; do sleep 0.05; done`,
    'echo "::stage transcode"', 'echo "::progress 0.6"',
    `while [ ! -f ${dir}/step2 ]; do sleep 0.05; done`,
    'echo finished',
  ].join('; ');
  return { job: { command: ['sh', '-c', script], queue: 'media', tags: ['film'] }, step: (n) => writeFileSync(join(dir, `step${n}`), '') };
}

// --- setup -------------------------------------------------------------------------

before(async () => {
  await waitForServer(BASE, 'QUERN_SERVER_PID');
  await waitForServer(TOKEN_BASE, 'QUERN_TOKEN_SERVER_PID');
  browser = await chromium.launch({
    executablePath: process.env.QUERN_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking'],
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  page = await openDashboard(context);
});

after(async () => {
  await browser?.close();
});

// --- tests -------------------------------------------------------------------------

test('the page loads, connects to the event stream and logs no error', async () => {
  await page.waitForSelector('#connection[data-status="live"]', { timeout: WAIT_MS });
  assert.match(await page.title(), /Quern/);
  assert.equal(await page.locator('#tiles .tile').count(), 8);
  await page.evaluate(() => { window.__sameDocument = true; });
  assert.deepEqual(consoleErrors, []);
});

test('assets come with their content types and the scripts never build markup from strings', async () => {
  const index = await fetch(`${BASE}/`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type'), /^text\/html/);
  assert.match(index.headers.get('content-security-policy') || '', /default-src 'self'/);
  const html = await index.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
  for (const [path, type] of [['/assets/app.css', /^text\/css/], ['/assets/favicon.svg', /^image\/svg\+xml/]]) {
    const response = await fetch(BASE + path);
    assert.equal(response.status, 200, path);
    assert.match(response.headers.get('content-type'), type, path);
  }
  const scripts = await page.evaluate(() => performance.getEntriesByType('resource')
    .map((entry) => new URL(entry.name).pathname).filter((path) => path.endsWith('.js')));
  assert.ok(scripts.includes('/assets/app.js'), `loaded scripts: ${scripts}`);
  for (const path of scripts) {
    const response = await fetch(BASE + path);
    assert.match(response.headers.get('content-type'), /^text\/javascript/, path);
    assert.doesNotMatch(await response.text(), /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, path);
  }
  assert.equal((await fetch(`${BASE}/assets/nothing-here.js`)).status, 404);
});

test('a job enqueued through the API appears without a reload', async () => {
  const before = await tileCount('available');
  const job = await enqueue({ type: 'email', queue: 'mail', payload: { to: 'ada@example.com' }, tags: ['welcome'] });
  await showTab('available');
  await jobRow(job.id).waitFor({ timeout: WAIT_MS });
  assert.match(await jobRow(job.id).textContent(), /ada@example\.com/);
  await eventually('the available tile to count the job', async () => (await tileCount('available')) === before + 1);
  await page.waitForSelector('#queues-body tr[data-queue="mail"]');
  assert.ok(await page.evaluate(() => window.__sameDocument));

  // A large payload is not sent with the list, only its size; the panel shows it whole.
  const large = await enqueue({ type: 'archive', queue: 'mail', payload: { blob: 'z'.repeat(10000) } });
  await jobRow(large.id).waitFor({ timeout: WAIT_MS });
  assert.match(await jobRow(large.id).textContent(), /payload of 9\.8 KB/);
  await jobRow(large.id).locator('td.type').click();
  await page.locator('#detail pre').filter({ hasText: 'z'.repeat(10000) }).waitFor({ timeout: WAIT_MS });
  await closeDetail();
});

test('a running job shows its progress and stage as they change, live', async () => {
  const stepped = steppedJob('progress');
  const job = await enqueue(stepped.job);
  const row = runningRow(job.id);
  const bar = row.locator('[role="progressbar"]');
  await eventually('progress 30%', async () => (await bar.getAttribute('aria-valuenow')) === '30');
  assert.equal(await row.locator('.stage').textContent(), 'download');
  stepped.step(1);
  await eventually('progress 60%', async () => (await bar.getAttribute('aria-valuenow')) === '60');
  assert.equal(await row.locator('.stage').textContent(), 'transcode');
  assert.equal(await row.locator('.progress-label').textContent(), '60%');
  stepped.step(2);
  await row.waitFor({ state: 'detached', timeout: WAIT_MS });
  assert.equal((await getJob(job.id)).state, 'completed');
  await showTab('completed');
  await jobRow(job.id).waitFor({ timeout: WAIT_MS });
  assert.ok(await page.evaluate(() => window.__sameDocument));
});

test('cancel and retry by clicking in the list', async () => {
  const job = await enqueue({ type: 'report', queue: 'ops', payload: { month: '2024-05' } });
  await showTab('available', 'ops');
  await jobRow(job.id).locator('button[data-action="cancel"]').click();
  await eventually('the job to be canceled', async () => (await getJob(job.id)).state === 'canceled');
  await jobRow(job.id).waitFor({ state: 'detached', timeout: WAIT_MS });  // it left the available tab
  await showTab('canceled', 'ops');
  await jobRow(job.id).waitFor({ timeout: WAIT_MS });
  assert.equal(await jobRow(job.id).getAttribute('data-state'), 'canceled');
  await jobRow(job.id).locator('button[data-action="retry"]').click();
  await eventually('the job to be available again', async () => (await getJob(job.id)).state === 'available');
  await jobRow(job.id).waitFor({ state: 'detached', timeout: WAIT_MS });
});

test('a failed job retried by a click runs again', async () => {
  const flag = join(WORK, 'fixed');
  const job = await enqueue({ command: ['sh', '-c', `echo "checking ${flag}"; test -f ${flag} || { echo "not fixed yet" >&2; exit 65; }`],
                              queue: 'fragile' });
  await eventually('the job to fail', async () => (await getJob(job.id)).state === 'failed');
  await showTab('failed', 'fragile');
  await jobRow(job.id).waitFor({ timeout: WAIT_MS });
  writeFileSync(flag, '');
  await jobRow(job.id).locator('button[data-action="retry"]').click();
  await eventually('the retried job to complete', async () => (await getJob(job.id)).state === 'completed');
  await jobRow(job.id).waitFor({ state: 'detached', timeout: WAIT_MS });
  await showTab('completed', 'fragile');
  await jobRow(job.id).waitFor({ timeout: WAIT_MS });
});

test('pause and resume a queue by clicking, and see a pause made elsewhere', async () => {
  const row = page.locator('#queues-body tr[data-queue="mail"]');
  await row.locator('button[data-action="pause"]').click();
  await eventually('mail to be paused', async () => {
    const { queues } = await api('GET', '/api/v1/queues');
    return queues.find((queue) => queue.name === 'mail')?.paused === true;
  });
  await row.locator('.badge-paused').waitFor({ timeout: WAIT_MS });
  await row.locator('button[data-action="resume"]').click();
  await row.locator('.badge-paused').waitFor({ state: 'detached', timeout: WAIT_MS });
  const { queues } = await api('GET', '/api/v1/queues');
  assert.equal(queues.find((queue) => queue.name === 'mail').paused, false);

  // A name with characters a path treats specially is escaped.
  await enqueue({ type: 'dots', queue: 'a.b/c?d' });
  const dots = page.locator('#queues-body tr[data-queue="a.b/c?d"]');
  await dots.locator('button[data-action="pause"]').click();
  await dots.locator('.badge-paused').waitFor({ timeout: WAIT_MS });
  await dots.locator('button[data-action="resume"]').click();
  await dots.locator('.badge-paused').waitFor({ state: 'detached', timeout: WAIT_MS });

  await api('POST', '/api/v1/queues/ops/pause', {});
  await page.locator('#queues-body tr[data-queue="ops"] .badge-paused').waitFor({ timeout: WAIT_MS });
  await api('POST', '/api/v1/queues/ops/resume', {});
  await page.locator('#queues-body tr[data-queue="ops"] .badge-paused').waitFor({ state: 'detached', timeout: WAIT_MS });
});

test('the job panel shows the job and its actions work', async () => {
  const job = await enqueue({ type: 'transcode', queue: 'ops', priority: 10, payload: { file: '/media/a.mkv' },
                              tags: ['night'] });
  await showTab('available', 'ops');
  await jobRow(job.id).locator('td.type').click();
  await page.waitForSelector(`#detail:not([hidden])`);
  assert.equal(new URL(page.url()).hash, `#job/${job.id}`);
  const panel = page.locator('#detail');
  const panelState = () => panel.locator('.detail-header .badge').textContent();
  await eventually('the panel to show the job', async () => (await panelState()) === 'available');
  assert.match(await panel.textContent(), /\/media\/a\.mkv/);
  await panel.locator('table.history tbody tr').first().waitFor();

  await panel.locator('.priority-input').fill('25');
  await panel.locator('.priority-form button').click();
  await eventually('priority 25', async () => (await getJob(job.id)).priority === 25);

  await panel.locator('button[data-action="cancel"]').click();
  await eventually('the panel to show canceled', async () => (await panelState()) === 'canceled');
  // Read incrementally, the history still has each transition once.
  await eventually('each transition in the history once', async () => {
    const { history } = await api('GET', `/api/v1/jobs/${job.id}/history`);
    return history.length >= 2 && (await panel.locator('table.history tbody tr').count()) === history.length;
  });

  const remove = panel.locator('button[data-action="delete"]');
  await remove.click();  // arms it
  assert.match(await remove.textContent(), /sure/);
  await remove.click();
  await eventually('the job to be deleted', async () => {
    const response = await fetch(`${BASE}/api/v1/jobs/${job.id}`);
    return response.status === 404;
  });
  await page.waitForSelector('#detail.gone');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#detail', { state: 'hidden' });
});

test('the job panel shows a result, a checkpoint and an error, as text', async () => {
  const panel = page.locator('#detail');
  const panelState = () => panel.locator('.detail-header .badge').textContent();
  // The panel shows JSON indented, as the API gives it (the server may reorder an object's keys).
  const shownJson = async (title) => {
    const text = await detailSection(title).locator('pre').textContent();
    return /^[{[]\n  /.test(text) ? JSON.parse(text) : undefined;
  };

  // A remote worker's job, leased, with a checkpoint sent by heartbeat (it fails below),
  // and a shell job that saves a checkpoint and completes with a result.
  const remote = await enqueue({ type: 'render', queue: 'panel-remote', payload: { scene: 7 } });
  const { jobs: leased } = await api('POST', '/api/v1/leases',
                                     { worker: 'browser-test', types: ['render'], queues: ['panel-remote'], max: 1 });
  assert.deepEqual(leased.map((job) => job.id), [remote.id]);
  const { attempt } = leased[0];
  const saved = { tile: 7, of: 12 };
  await api('POST', `/api/v1/jobs/${remote.id}/heartbeat`, { attempt, progress: 0.5, stage: 'tiles', checkpoint: saved });
  const result = { frames: 240, file: '/out/a.mp4' };
  const checkpoint = { frame: 120 };
  const shell = await enqueue({ command: ['sh', '-c', `echo '::checkpoint ${JSON.stringify(checkpoint)}'; echo '::result ${JSON.stringify(result)}'`],
                                queue: 'panel' });

  await eventually('the shell job to complete', async () => (await getJob(shell.id)).state === 'completed');
  await showTab('completed');
  await eventually('the shell job in the completed list', async () => (await jobRow(shell.id).count()) === 1);
  await jobRow(shell.id).locator('td.type').click();
  await eventually('the panel to show the completed job', async () => (await panelState()) === 'completed');
  await eventually('the result in the panel', async () =>
    isDeepStrictEqual(await shownJson('Result'), result));
  assert.ok(await detailSection('Result').isVisible());
  assert.deepEqual(await shownJson('Checkpoint'), checkpoint);
  assert.ok(await detailSection('Checkpoint').isVisible());
  assert.ok(await detailSection('Error').isHidden(), 'a completed job has no error section');
  await closeDetail();

  await eventually('the remote job in the running list', async () => (await runningRow(remote.id).count()) === 1);
  await runningRow(remote.id).locator('td.what').click();
  await eventually('the panel to show the running job', async () => (await panelState()) === 'running');
  await eventually('the checkpoint in the panel', async () =>
    isDeepStrictEqual(await shownJson('Checkpoint'), saved));
  assert.ok(await detailSection('Checkpoint').isVisible());
  assert.ok(await detailSection('Result').isHidden(), 'a running job has no result section');
  assert.ok(await detailSection('Error').isHidden(), 'a running job has no error section yet');

  const error = 'GPU lost at tile 7 <of 12>';
  await api('POST', `/api/v1/jobs/${remote.id}/fail`, { attempt, error, retry: false });
  assert.equal((await getJob(remote.id)).state, 'failed');
  await eventually('the panel to show failed, live', async () => (await panelState()) === 'failed');
  await eventually('the error in the panel', async () =>
    (await detailSection('Error').locator('pre.error-text').textContent()) === error);
  assert.ok(await detailSection('Error').isVisible());
  assert.equal((await getJob(remote.id)).error, error);
  assert.ok(await detailSection('Result').isHidden(), 'a failed job has no result section');
  await closeDetail();
});

test('a malicious payload, name, log and error show as text and never run', async () => {
  const script = '<script>window.__pwned=1</script>';
  const image = '<img src=x onerror="window.__pwned=1">';
  const typed = await enqueue({ type: `<img src=x onerror="window.__pwned=1">`, queue: '<b>evil</b>',
                                payload: { note: script, html: image }, tags: [image] });
  const shell = await enqueue({ command: ['sh', '-c', `echo '${image}'; echo '::stage ${script}'; echo '${script}' >&2; exit 65`],
                                queue: '<b>evil</b>' });
  await eventually('the shell job to fail', async () => (await getJob(shell.id)).state === 'failed');

  await showTab('all', '<b>evil</b>');
  await jobRow(typed.id).waitFor({ timeout: WAIT_MS });
  assert.match(await jobRow(typed.id).textContent(), /<script>window\.__pwned=1<\/script>/);
  await page.locator('#queues-body tr[data-queue="<b>evil</b>"] .queue-name').filter({ hasText: '<b>evil</b>' }).waitFor();

  await page.goto(`${BASE}/#job/${typed.id}`);
  await page.locator('#detail pre').filter({ hasText: script }).waitFor({ timeout: WAIT_MS });
  await page.goto(`${BASE}/#job/${shell.id}`);
  await page.locator('#detail pre.log').filter({ hasText: image }).waitFor({ timeout: WAIT_MS });

  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.locator('img[src="x"], b').count(), 0, 'no element was made from user text');
  assert.equal(await page.locator('script:not([src])').count(), 0);
  await page.goto(`${BASE}/`);
  await page.evaluate(() => { window.__sameDocument = true; });
});

test('lists are paged 50 at a time, older and newer', async () => {
  const jobs = Array.from({ length: 120 }, (_, i) => ({ type: 'thumbnail', queue: 'bulk', payload: { n: i } }));
  const { jobs: created } = await api('POST', '/api/v1/jobs', { jobs });
  const ids = created.map((job) => job.id).sort((a, b) => b - a);  // newest first
  await showTab('available', 'bulk');
  const rows = page.locator('#jobs-body tr[data-job-id]');
  const firstId = async () => Number(await rows.first().getAttribute('data-job-id'));
  await eventually('the first page', async () => (await rows.count()) === 50 && (await firstId()) === ids[0]);
  assert.ok(await page.isDisabled('#newer'));
  assert.match(await page.textContent('#page-info'), /^1–50 of 120$/);
  // A double click turns one page, and the label names the rows shown.
  await page.dblclick('#older');
  await eventually('the second page after a double click', async () =>
    (await firstId()) === ids[50] && /^51–100 of 120$/.test(await page.textContent('#page-info')));
  await page.waitForTimeout(300);
  assert.equal(await firstId(), ids[50]);
  await page.click('#newer');
  await eventually('the first page again', async () => (await firstId()) === ids[0]);
  await page.click('#older');
  await eventually('the second page', async () => (await firstId()) === ids[50] && (await rows.count()) === 50);
  await page.click('#older');
  await eventually('the last page', async () => (await firstId()) === ids[100] && (await rows.count()) === 20);
  assert.ok(await page.isDisabled('#older'));
  assert.match(await page.textContent('#page-info'), /^101–120 of 120$/);
  await page.click('#newer');
  await eventually('back to the second page', async () => (await firstId()) === ids[50]);

  await page.fill('#filter-type', 'no-such-type');
  await eventually('an empty filtered list', async () => (await rows.count()) === 0);
  await page.fill('#filter-type', '');
  await eventually('the first page again', async () => (await firstId()) === ids[0]);
});

test('the tag filter shows only the jobs with that tag', async () => {
  const { jobs: created } = await api('POST', '/api/v1/jobs', { jobs: [
    { type: 'label', queue: 'tagged', tags: ['tag-red'] },
    { type: 'label', queue: 'tagged', tags: ['tag-blue'] },
    { type: 'label', queue: 'tagged', tags: ['tag-red', 'tag-blue'] },
    { type: 'label', queue: 'tagged' },
  ] });
  const [red, blue, both, untagged] = created.map((job) => job.id);
  await showTab('all');
  const rows = page.locator('#jobs-body tr[data-job-id]');
  const everyRowHasChip = async (tag) => (await rows.evaluateAll((trs, wanted) =>
    trs.every((tr) => [...tr.querySelectorAll('.chip')].some((chip) => chip.textContent === wanted)), tag));

  await page.fill('#filter-tag', 'tag-red');
  await eventually('only the red jobs', async () => sameIds(await listedIds(), [red, both]));
  assert.ok(await everyRowHasChip('tag-red'));
  await page.selectOption('#filter-queue', 'tagged');  // with the queue filter too
  await page.fill('#filter-tag', 'tag-blue');
  await eventually('only the blue jobs', async () => sameIds(await listedIds(), [blue, both]));
  assert.ok(await everyRowHasChip('tag-blue'));
  await page.fill('#filter-tag', '');
  await eventually('every job of the queue again', async () => sameIds(await listedIds(), [red, blue, both, untagged]));
});

test('a delayed job shows in the scheduled tab and a dependent one in the blocked tab', async () => {
  const parent = await enqueue({ type: 'prepare', queue: 'later' });
  const delayed = await enqueue({ type: 'digest', queue: 'later', delay: '1h' });
  const child = await enqueue({ type: 'publish', queue: 'later', depends_on: [parent.id] });
  assert.equal(delayed.state, 'scheduled');
  assert.equal(child.state, 'blocked');
  const tabCount = (tab) => page.textContent(`#tabs [data-tab="${tab}"] .tab-count`);

  await showTab('scheduled', 'later');
  await eventually('the scheduled tab to list only the delayed job', async () =>
    sameIds(await listedIds(), [delayed.id]));
  assert.equal(await jobRow(delayed.id).getAttribute('data-state'), 'scheduled');
  assert.equal(await jobRow(delayed.id).locator('td.when').getAttribute('data-at'), delayed.run_at);
  assert.equal(await page.textContent('#jobs-head th.when'), 'Runs');
  await eventually('the scheduled count of the queue', async () => (await tabCount('scheduled')) === '1');

  await showTab('blocked', 'later');
  await eventually('the blocked tab to list only the dependent job', async () =>
    sameIds(await listedIds(), [child.id]));
  assert.equal(await jobRow(child.id).getAttribute('data-state'), 'blocked');
  assert.equal(await jobRow(child.id).locator('td.note').textContent(), `after #${parent.id}`);
  await eventually('the blocked count of the queue', async () => (await tabCount('blocked')) === '1');
});

test('a burst of events costs about one refresh a second', async () => {
  let statsRequests = 0;
  const count = (request) => {
    if (new URL(request.url()).pathname === '/api/v1/stats') statsRequests++;
  };
  page.on('request', count);
  const started = Date.now();
  for (let i = 0; i < 5; i++) {
    await api('POST', '/api/v1/jobs', { jobs: Array.from({ length: 100 }, () => ({ type: 'burst', queue: 'burst' })) });
  }
  await eventually('the burst to be counted', async () => {
    const { queues } = await api('GET', '/api/v1/stats');
    const burst = queues.find((queue) => queue.name === 'burst');
    return burst && (burst.states || burst.counts).available === 500 &&
           (await page.textContent('#tabs [data-tab="available"] .tab-count')) !== '';
  });
  await page.waitForFunction(() => {
    const row = document.querySelector('#queues-body tr[data-queue="burst"] td:nth-child(2)');
    return row && row.textContent === '500';
  }, null, { timeout: WAIT_MS });
  const seconds = (Date.now() - started) / 1000;
  page.off('request', count);
  assert.ok(statsRequests <= Math.ceil(seconds) + 2, `${statsRequests} stats requests in ${seconds.toFixed(1)} s`);
});

test('retry all failed of a queue, then clear completed, by clicking', async () => {
  const flag = join(WORK, 'batch-fixed');
  const failing = { command: ['sh', '-c', `test -f ${flag} || { echo "input missing" >&2; exit 65; }`], queue: 'batch' };
  const { jobs: created } = await api('POST', '/api/v1/jobs', { jobs: [failing, failing, failing] });
  const ids = created.map((job) => job.id);
  const elsewhere = await enqueue({ command: ['sh', '-c', 'exit 65'], queue: 'elsewhere' });
  const states = async () => Promise.all(ids.map(async (id) => (await getJob(id)).state));
  await eventually('the three jobs to fail', async () => (await states()).every((state) => state === 'failed'));
  await eventually('the other queue\'s job to fail', async () => (await getJob(elsewhere.id)).state === 'failed');

  await showTab('failed', 'batch');
  for (const id of ids) await jobRow(id).waitFor({ timeout: WAIT_MS });
  const retryAll = page.locator('#retry-failed');
  await eventually('the button to name the queue', async () =>
    (await retryAll.textContent()) === 'Retry failed in batch' && !(await retryAll.isDisabled()));
  writeFileSync(flag, '');
  await retryAll.click();
  await eventually('the three jobs to complete', async () => (await states()).every((state) => state === 'completed'));
  for (const id of ids) await jobRow(id).waitFor({ state: 'detached', timeout: WAIT_MS });
  assert.equal((await getJob(elsewhere.id)).state, 'failed', 'only the filtered queue was retried');

  // With a queue selected, only that queue's completed jobs go.
  const other = await enqueue({ command: ['true'], queue: 'elsewhere' });
  await eventually('the other queue\'s job to complete', async () => (await getJob(other.id)).state === 'completed');
  await showTab('completed', 'elsewhere');
  const clear = page.locator('#clear-completed');
  await eventually('clear to name the queue', async () =>
    (await clear.textContent()) === 'Clear completed in elsewhere' && !(await clear.isDisabled()));
  await clear.click();
  await clear.click();
  await eventually('the other queue\'s completed job to go', async () =>
    (await fetch(`${BASE}/api/v1/jobs/${other.id}`)).status === 404);
  for (const id of ids) assert.equal((await getJob(id)).state, 'completed', 'another queue\'s jobs stay');

  await showTab('completed');
  await eventually('clear to be enabled', async () => !(await clear.isDisabled()));
  assert.equal(await clear.textContent(), 'Clear all completed');
  await clear.click();  // arms it
  assert.match(await clear.textContent(), /sure/);
  await clear.click();
  await eventually('no completed job left', async () =>
    (await api('GET', '/api/v1/jobs?state=completed')).jobs.length === 0);
  for (const id of ids) {
    const response = await fetch(`${BASE}/api/v1/jobs/${id}`);
    assert.equal(response.status, 404);
  }
  await eventually('the completed tile to read 0', async () => (await tileCount('completed')) === 0);
  await eventually('the completed list to empty', async () =>
    (await page.locator('#jobs-body tr[data-job-id]').count()) === 0);
  assert.ok(await clear.isDisabled());
  assert.equal((await getJob(elsewhere.id)).state, 'failed', 'clearing completed jobs leaves failed ones');
});

test('a server with a token asks for it once and keeps it for the tab', async () => {
  const context = await browser.newContext();
  const guarded = await openDashboard(context, TOKEN_BASE);
  const dialog = guarded.locator('#token-dialog');
  await dialog.waitFor({ timeout: WAIT_MS });
  await dialog.locator('input[name="token"]').fill(TOKEN);
  await dialog.locator('button[value="ok"]').click();
  await guarded.waitForSelector('#connection[data-status="live"]', { timeout: WAIT_MS });
  assert.equal(await guarded.evaluate(() => sessionStorage.getItem('quern.token')), TOKEN);
  const job = await api('POST', '/api/v1/jobs', { type: 'secret', queue: 'vault' }, { base: TOKEN_BASE, token: TOKEN });
  await guarded.locator(`#jobs-body tr[data-job-id="${job.id}"], #tabs`).first().waitFor();
  await guarded.reload();
  await guarded.waitForSelector('#connection[data-status="live"]', { timeout: WAIT_MS });
  assert.equal(await guarded.locator('#token-dialog[open]').count(), 0, 'no second prompt after a reload');
  await guarded.waitForFunction(() => document.querySelector('#queues-body tr[data-queue="vault"]'), null,
                                { timeout: WAIT_MS });
  // The token server's own 401s before the token was entered are the only errors allowed.
  for (let i = consoleErrors.length - 1; i >= 0; i--) {
    if (/401/.test(consoleErrors[i]) && consoleErrors[i].includes(TOKEN_BASE)) consoleErrors.splice(i, 1);
  }
  await context.close();
});

test('a refused token is asked for again, and Enter in the dialog uses the token', async () => {
  const context = await browser.newContext();
  const guarded = await openDashboard(context, TOKEN_BASE);
  const dialog = guarded.locator('#token-dialog[open]');
  await dialog.waitFor({ timeout: WAIT_MS });
  await dialog.locator('input[name="token"]').fill('wrong');
  await dialog.locator('input[name="token"]').press('Enter');
  await guarded.waitForFunction(() => /refused/.test(document.querySelector('#token-dialog[open] .dialog-hint')?.textContent),
                                null, { timeout: WAIT_MS });
  await dialog.locator('input[name="token"]').fill(TOKEN);
  await dialog.locator('input[name="token"]').press('Enter');
  // The data comes with the token, not with the next idle refresh.
  await guarded.waitForFunction(() => document.querySelector('#queues-body tr[data-queue="vault"]'), null,
                                { timeout: 3000 });
  assert.equal(await guarded.evaluate(() => sessionStorage.getItem('quern.token')), TOKEN);
  for (let i = consoleErrors.length - 1; i >= 0; i--) {
    if (/401/.test(consoleErrors[i]) && consoleErrors[i].includes(TOKEN_BASE)) consoleErrors.splice(i, 1);
  }
  await context.close();
});

test('the throughput chart draws finished jobs as bars, to scale', async () => {
  // One snapshot of what the chart shows: its label's totals and each minute's counts and bars.
  const drawn = () => page.evaluate(() => {
    const svg = document.querySelector('#chart .chart-svg');
    const label = svg && /: (\d+) completed, (\d+) failed$/.exec(svg.getAttribute('aria-label'));
    if (!label) return null;
    const slots = [...svg.querySelectorAll('g.slot')].map((group) => {
      const counts = /([\d,]+) completed, ([\d,]+) failed$/.exec(group.querySelector('title').textContent);
      const count = (text) => Number(text.replaceAll(',', ''));
      const height = (kind) => Number(group.querySelector(`rect.bar-${kind}`)?.getAttribute('height') ?? 0);
      return { completed: count(counts[1]), failed: count(counts[2]),
               completedHeight: height('completed'), failedHeight: height('failed') };
    });
    return { completed: Number(label[1]), failed: Number(label[2]), slots };
  });
  const served = async () => {
    const { buckets } = await api('GET', '/api/v1/throughput?minutes=60');
    return { completed: buckets.reduce((sum, b) => sum + b.completed, 0), failed: buckets.reduce((sum, b) => sum + b.failed, 0) };
  };
  const before = await eventually('the chart', drawn);

  const done = await enqueue({ command: ['sh', '-c', 'exit 0'], queue: 'chart' });
  const failed = await enqueue({ command: ['sh', '-c', 'exit 65'], queue: 'chart' });
  await eventually('the chart jobs to finish', async () =>
    (await getJob(done.id)).state === 'completed' && (await getJob(failed.id)).state === 'failed');
  let totals;
  const chart = await eventually('the chart to count what the API counts', async () => {
    totals = await served();
    const shown = await drawn();
    return shown && shown.completed === totals.completed && shown.failed === totals.failed && shown;
  });
  assert.ok(totals.completed > before.completed && totals.failed > before.failed,
            `before ${JSON.stringify(before)}, now ${JSON.stringify(totals)}`);

  assert.equal(chart.slots.length, 60);
  assert.equal(chart.slots.reduce((sum, slot) => sum + slot.completed, 0), totals.completed);
  assert.equal(chart.slots.reduce((sum, slot) => sum + slot.failed, 0), totals.failed);
  const bars = chart.slots.flatMap((slot) => [[slot.completed, slot.completedHeight], [slot.failed, slot.failedHeight]]);
  for (const [count, height] of bars) assert.equal(height > 0, count > 0, `a bar of height ${height} for ${count} jobs`);
  const scales = bars.filter(([count]) => count > 0).map(([count, height]) => height / count);
  assert.ok(scales.length >= 2, 'a completed and a failed bar');
  for (const scale of scales) assert.ok(Math.abs(scale - scales[0]) < 1e-6 * scales[0], `bar heights to scale: ${scales}`);
  const legend = async (kind) => Number((await page.textContent(`#chart-summary .legend-${kind} .legend-count`)).replaceAll(',', ''));
  assert.equal(await legend('completed'), totals.completed);
  assert.equal(await legend('failed'), totals.failed);
});

test('schedules show with their next firing once there are any, and the card hides with none left', async () => {
  assert.equal(await page.isHidden('#cron-card'), true, 'a Schedules card with no schedule');
  const nightly = await api('POST', '/api/v1/cron', { name: 'nightly-report', schedule: '0 3 * * *', type: 'report',
                                                      queue: 'reports' });
  await api('POST', '/api/v1/cron', { schedule: '*/5 * * * *', command: ['sh', '-c', 'echo <b>hi</b>'] });
  await enqueue({ type: 'nudge' });  // an event: the page refreshes
  const rows = await eventually('both schedules listed', async () => {
    const shown = await page.$$eval('#cron-body tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
    return shown.length === 2 && shown;
  });
  assert.equal(await page.isVisible('#cron-card'), true);
  assert.equal(await page.textContent('#cron-count'), '2');
  const byName = Object.fromEntries(rows.map((cells) => [cells[0], cells]));
  assert.deepEqual(byName['nightly-report'].slice(0, 2), ['nightly-report', '0 3 * * *']);
  assert.match(byName['nightly-report'][2], /^in \d+[smh]$/);
  assert.equal(byName['nightly-report'][3], '—');
  assert.equal(byName['nightly-report'][5], 'reports');
  assert.equal(await page.getAttribute('tr[data-cron="nightly-report"] .cron-next span', 'title') !== null, true);
  assert.equal(byName['1'][6], "sh -c 'echo <b>hi</b>'", 'a command shows as text');
  assert.equal(await page.$('#cron-body b'), null, 'markup from a command was built');

  await api('DELETE', `/api/v1/cron/${nightly.name}`);
  await api('DELETE', '/api/v1/cron/1');
  await enqueue({ type: 'nudge' });
  await eventually('the card to hide once no schedule is left', () => page.isHidden('#cron-card'));
});

test('screenshots of the dashboard, light and dark, with a job open', async () => {
  const stepped = steppedJob('screenshot');
  const job = await enqueue({ ...stepped.job, priority: 20 });
  const stop = join(WORK, 'screenshot-scan-stop');
  const scan = await enqueue({ command: ['sh', '-c', `echo "::stage scan"; echo "::progress 45%"; while [ ! -f ${stop} ]; do sleep 0.05; done`],
                               queue: 'library', tags: ['nightly'] });
  await enqueue({ type: 'publish', queue: 'library', payload: { item: 'Metropolis (1927)' },
                  run_at: new Date(Date.now() + 3600e3).toISOString() });
  const settled = async () => {
    await page.waitForFunction(() => document.getElementById('toasts').childElementCount === 0 &&
                                     document.getAnimations().every((animation) => animation.playState !== 'running'),
                               null, { timeout: WAIT_MS });
  };
  await showTab('failed');
  await eventually('both jobs to show their progress', async () =>
    (await runningRow(job.id).locator('[role="progressbar"]').getAttribute('aria-valuenow')) === '30' &&
    (await runningRow(scan.id).locator('[role="progressbar"]').getAttribute('aria-valuenow')) === '45');
  await page.waitForSelector('#chart .chart-svg');
  await settled();
  await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await settled();
  await page.screenshot({ path: join(SHOTS, 'dashboard-dark.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });
  await page.goto(`${BASE}/#job/${job.id}`);
  await page.locator('#detail .detail-header .badge').filter({ hasText: 'running' }).waitFor({ timeout: WAIT_MS });
  await page.locator('#detail table.history tbody tr').nth(1).waitFor({ timeout: WAIT_MS });
  await settled();
  await page.screenshot({ path: join(SHOTS, 'dashboard-job.png') });
  stepped.step(1);
  stepped.step(2);
  writeFileSync(stop, '');
  await eventually('both jobs to complete', async () =>
    (await getJob(job.id)).state === 'completed' && (await getJob(scan.id)).state === 'completed');
});

test('no console error or page error in the whole run', () => {
  assert.deepEqual(consoleErrors, []);
});
