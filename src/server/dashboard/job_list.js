// The jobs table: one tab per state, filters by queue, type and tag, and paging by
// cursor, 50 jobs a page, newest first. It never asks for more than one page.

import { api, query } from './api.js';
import { confirmingButton } from './actions.js';
import { h, KeyedRows } from './dom.js';
import { queueCounts } from './overview.js';
import {
  RETRYABLE_STATES, FINAL_STATES, STATES, describeJob, formatBytes, formatCount, formatPercent, formatRelative, formatTime,
  stateTime, truncate,
} from './format.js';

export const PAGE_SIZE = 50;
// A row shows 300 characters of a payload: a larger one is not sent (the panel reads it).
export const MAX_LISTED_PAYLOAD_BYTES = 8192;
const TABS = ['available', 'scheduled', 'blocked', 'running', 'failed', 'completed', 'canceled', 'expired', 'all'];
const SAVED_KEY = 'quern.list';
const FILTER_DELAY_MS = 250;

const WHEN_HEADER = {
  available: 'Created', scheduled: 'Runs', blocked: 'Created', running: 'Started',
  completed: 'Finished', failed: 'Finished', canceled: 'Finished', expired: 'Finished', all: 'When',
};

function noteOf(job) {
  switch (job.state) {
    case 'running': {
      const stage = job.stage ? `${job.stage} · ` : '';
      return { text: `${stage}${formatPercent(job.progress)}`, kind: 'note-running' };
    }
    case 'blocked': {
      const ids = (job.depends_on || []).map((id) => `#${id}`).join(', ');
      const files = (job.needs_files || []).length;
      const parts = [];
      if (ids) parts.push(`after ${ids}`);
      if (files) parts.push(`${files} file${files === 1 ? '' : 's'}`);
      return { text: parts.join(', '), kind: 'note-blocked' };
    }
    case 'completed':
      if (job.omitted?.result) return { text: `result of ${formatBytes(job.omitted.result)}`, kind: 'note-result' };
      return { text: job.result === null || job.result === undefined ? '' : truncate(JSON.stringify(job.result), 200),
               kind: 'note-result' };
    default:
      return { text: truncate(job.error || '', 300), kind: 'note-error' };
  }
}

export class JobList {
  constructor(elements, { actions }) {
    this.el = elements;
    this.actions = actions;
    this.rows = new KeyedRows(elements.tbody);
    this.stats = null;
    this.generation = 0;
    this.nextCursor = null;
    this.shown = 0;
    this.onTabChange = () => {};
    const saved = JSON.parse(sessionStorage.getItem(SAVED_KEY) || '{}');
    this.filter = {
      tab: TABS.includes(saved.tab) ? saved.tab : 'available',
      queue: saved.queue || '', type: saved.type || '', tag: saved.tag || '',
    };
    this.cursors = [''];  // cursors[page] fetches that page; page 0 is the newest
    this.page = 0;
    this.buildTabs();
    this.buildToolbar();
    this.buildHeader();
  }

  buildTabs() {
    this.tabs = new Map();
    for (const tab of TABS) {
      const count = h('span', { class: 'tab-count' });
      const button = h('button', { type: 'button', role: 'tab', class: `tab state-${tab}`, dataset: { tab },
                                   onclick: () => this.setTab(tab) },
                       h('span', { class: 'tab-dot' }), tab, count);
      this.tabs.set(tab, { button, count });
      this.el.tabs.append(button);
    }
    this.markTab();
  }

  buildToolbar() {
    const { queueSelect, typeInput, tagInput, toolbarActions } = this.el;
    typeInput.value = this.filter.type;
    tagInput.value = this.filter.tag;
    queueSelect.addEventListener('change', () => this.setFilter({ queue: queueSelect.value }));
    let timer = null;
    const typed = () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.setFilter({ type: typeInput.value.trim(), tag: tagInput.value.trim() }),
                         FILTER_DELAY_MS);
    };
    typeInput.addEventListener('input', typed);
    tagInput.addEventListener('input', typed);

    this.retryFailedButton = h('button', { type: 'button', id: 'retry-failed' }, 'Retry all failed');
    this.retryFailedButton.addEventListener('click', () =>
      this.actions.retryFailed(this.filter.queue, this.retryFailedButton));
    this.clearButton = confirmingButton('Clear completed', { id: 'clear-completed' },
                                        (button) => this.actions.clearCompleted(this.filter.queue, button));
    toolbarActions.append(this.retryFailedButton, this.clearButton);
    this.el.newer.addEventListener('click', () => this.goNewer());
    this.el.older.addEventListener('click', () => this.goOlder());
  }

  buildHeader() {
    const when = WHEN_HEADER[this.filter.tab];
    this.el.thead.replaceChildren(h('tr', {},
      h('th', { class: 'id' }, 'ID'), h('th', { class: 'state' }, 'State'), h('th', {}, 'Queue'),
      h('th', {}, 'Type'), h('th', { class: 'what' }, 'Job'), h('th', { class: 'num' }, 'Pri'),
      h('th', { class: 'num', title: 'failures / max attempts' }, 'Fails'), h('th', { class: 'note' }, 'Note'),
      h('th', { class: 'when' }, when), h('th', { class: 'actions' })));
  }

  save() {
    sessionStorage.setItem(SAVED_KEY, JSON.stringify(this.filter));
  }

  markTab() {
    for (const [tab, { button }] of this.tabs) {
      button.classList.toggle('active', tab === this.filter.tab);
      button.setAttribute('aria-selected', String(tab === this.filter.tab));
    }
    this.onTabChange(this.filter.tab);
  }

  resetPaging() {
    this.cursors = [''];
    this.page = 0;
    this.generation++;  // an answer to the old query is dropped
  }

  setTab(tab) {
    if (tab === this.filter.tab && this.page === 0) return;
    this.filter.tab = tab;
    this.resetPaging();
    this.save();
    this.markTab();
    this.buildHeader();
    this.rows.clear();
    this.reload();
  }

  setFilter(change) {
    const next = { ...this.filter, ...change };
    if (next.queue === this.filter.queue && next.type === this.filter.type && next.tag === this.filter.tag) return;
    this.filter = next;
    this.el.queueSelect.value = next.queue;
    this.el.typeInput.value = next.type;
    this.el.tagInput.value = next.tag;
    this.resetPaging();
    this.save();
    this.updateCounts();
    this.reload();
  }

  goOlder() {
    if (!this.nextCursor) return;
    this.cursors[this.page + 1] = this.nextCursor;
    this.page++;
    // Until this page arrives there is no next cursor: a second click must not reuse
    // this one (the rows would be one page behind the label).
    this.nextCursor = null;
    this.el.older.disabled = true;
    this.generation++;
    this.reload();
  }

  goNewer() {
    if (this.page === 0) return;
    this.page--;
    this.generation++;
    this.reload();
  }

  // The counts in the tabs, of the selected queue if one is.
  countsFor() {
    if (!this.stats) return null;
    if (!this.filter.queue) return this.stats.states || {};
    const queue = (this.stats.queues || []).find((q) => q.name === this.filter.queue);
    return queue ? queueCounts(queue) : {};
  }

  setStats(stats) {
    this.stats = stats;
    const select = this.el.queueSelect;
    const names = (stats.queues || []).map((q) => q.name);
    if (this.filter.queue && !names.includes(this.filter.queue)) names.push(this.filter.queue);
    const current = [...select.options].slice(1).map((option) => option.value);
    if (JSON.stringify(current) !== JSON.stringify(names)) {
      select.replaceChildren(h('option', { value: '' }, 'All queues'),
                             ...names.map((name) => h('option', { value: name }, name)));
    }
    select.value = this.filter.queue;
    this.updateCounts();
  }

  updateCounts() {
    const counts = this.countsFor();
    if (!counts) return;
    const total = STATES.reduce((sum, state) => sum + (Number(counts[state]) || 0), 0);
    for (const [tab, { count }] of this.tabs) {
      const n = tab === 'all' ? total : Number(counts[tab]) || 0;
      count.textContent = formatCount(n);
      count.classList.toggle('zero', n === 0);
    }
    const failed = Number(counts.failed) || 0;
    this.retryFailedButton.disabled = failed === 0;
    this.retryFailedButton.textContent = this.filter.queue ? `Retry failed in ${this.filter.queue}` : 'Retry all failed';
    this.clearButton.disabled = !(Number(counts.completed) > 0);
    this.clearButton.setLabel(this.filter.queue ? `Clear completed in ${this.filter.queue}` : 'Clear all completed');
    this.updatePageInfo();
  }

  // How many jobs the current tab holds, when the counts can tell (no type/tag filter).
  knownTotal() {
    const counts = this.countsFor();
    if (!counts || this.filter.type || this.filter.tag) return null;
    if (this.filter.tab === 'all') return STATES.reduce((sum, state) => sum + (Number(counts[state]) || 0), 0);
    return Number(counts[this.filter.tab]) || 0;
  }

  updatePageInfo() {
    const first = this.page * PAGE_SIZE + 1;
    const last = this.page * PAGE_SIZE + this.shown;
    const total = this.knownTotal();
    let text = this.shown === 0 ? '' : `${formatCount(first)}–${formatCount(last)}`;
    if (text && total !== null) text += ` of ${formatCount(Math.max(total, last))}`;
    this.el.pageInfo.textContent = text;
    this.el.newer.disabled = this.page === 0;
    this.el.older.disabled = !this.nextCursor;
  }

  async reload() {
    const generation = this.generation;
    const { tab, queue, type, tag } = this.filter;
    const answer = await api('GET', `/api/v1/jobs${query({
      state: tab === 'all' ? '' : tab, queue, type, tag, limit: PAGE_SIZE, order: 'desc', cursor: this.cursors[this.page],
      max_payload_bytes: MAX_LISTED_PAYLOAD_BYTES,
    })}`);
    if (generation !== this.generation) return;  // the query changed meanwhile
    const jobs = answer.jobs || [];
    if (jobs.length === 0 && this.page > 0) {  // the page emptied (jobs were cleared): go back
      this.goNewer();
      return;
    }
    this.nextCursor = answer.next_cursor ?? null;
    this.shown = jobs.length;
    this.render(jobs);
    this.updatePageInfo();
  }

  render(jobs) {
    if (jobs.length === 0) {
      const filtered = this.filter.queue || this.filter.type || this.filter.tag;
      const what = this.filter.tab === 'all' ? 'No jobs' : `No ${this.filter.tab} jobs`;
      this.rows.clear(h('tr', {}, h('td', { class: 'empty', colspan: 10 }, filtered ? `${what} match the filters` : what)));
      return;
    }
    this.rows.render(jobs, (job) => job.id,
                     (job) => JSON.stringify([job.state, job.updated_at, job.progress, job.stage, job.priority,
                                              job.failures, job.attempt, job.error]),
                     (job) => this.buildRow(job));
  }

  buildRow(job) {
    const when = stateTime(job);
    const note = noteOf(job);
    const what = describeJob(job);
    let action = null;
    if (RETRYABLE_STATES.has(job.state)) {
      action = h('button', { type: 'button', class: 'small', dataset: { action: 'retry' } }, 'Retry');
      action.addEventListener('click', (event) => {
        event.stopPropagation();
        this.actions.retry(job.id, action);
      });
    } else if (!FINAL_STATES.has(job.state)) {
      action = h('button', { type: 'button', class: 'small', dataset: { action: 'cancel' } }, 'Cancel');
      action.addEventListener('click', (event) => {
        event.stopPropagation();
        this.actions.cancel(job.id, action);
      });
    }
    return h('tr', { class: 'clickable', dataset: { jobId: job.id, state: job.state, href: `#job/${job.id}` } },
      h('td', { class: 'id' }, h('a', { href: `#job/${job.id}` }, `#${job.id}`)),
      h('td', { class: 'state' }, h('span', { class: `badge state-${job.state}` }, job.state)),
      h('td', { class: 'queue', title: job.queue }, job.queue),
      h('td', { class: 'type', title: job.type }, job.type),
      h('td', { class: 'what', title: what },
        (job.tags || []).map((tag) => h('span', { class: 'chip' }, tag)), what),
      h('td', { class: 'num' }, String(job.priority)),
      h('td', { class: `num${job.failures > 0 ? ' has-failures' : ''}`,
                title: `attempt ${job.attempt}, ${job.failures} of ${job.max_attempts} failures allowed` },
        `${job.failures}/${job.max_attempts}`),
      h('td', { class: `note ${note.kind}`, title: note.text }, note.text),
      h('td', { class: 'when', title: when ? formatTime(when) : '', dataset: when ? { at: when } : {} },
        when ? formatRelative(when) : ''),
      h('td', { class: 'actions' }, action));
  }
}
