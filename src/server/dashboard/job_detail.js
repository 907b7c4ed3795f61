// The job panel (#job/ID): every field, payload, result, error, checkpoint, the history
// of transitions and the log, with the actions that apply to the job's state.

import { api } from './api.js';
import { confirmingButton } from './actions.js';
import { h } from './dom.js';
import {
  FINAL_STATES, RETRYABLE_STATES, describeJob, formatDuration, formatRelative, formatTime, prettyJson,
} from './format.js';
import { progressBar } from './progress.js';

const LOG_POLL_MS = 2000;  // a running job's log grows without events
const MAX_LOG_CHARS = 1 << 20;  // what the server keeps of a log, about

function timeValue(iso) {
  if (!iso) return null;
  return h('span', { title: iso }, formatTime(iso), ' ',
           h('span', { class: 'muted', dataset: { at: iso } }, formatRelative(iso)));
}

function section(title, body, extra = null) {
  return h('section', { class: 'detail-section' }, h('h3', {}, title, extra), body);
}

export class JobDetail {
  constructor(panel, { actions, onClose }) {
    this.panel = panel;
    this.actions = actions;
    this.onClose = onClose;
    this.id = null;
    this.job = null;
    this.generation = 0;
    this.pollTimer = null;
    this.gone = false;
  }

  isOpen() {
    return this.id !== null;
  }

  open(id) {
    if (this.id === id) return;
    this.id = id;
    this.job = null;
    this.gone = false;
    this.logText = '';
    this.logSeq = 0;  // the log is read incrementally: only chunks after this one
    this.historySeq = 0;  // and so is the history
    this.generation++;
    this.build();
    this.panel.hidden = false;
    document.body.classList.add('detail-open');
    this.reload().catch(() => {});
  }

  close() {
    if (this.id === null) return;
    this.id = null;
    this.generation++;
    clearTimeout(this.pollTimer);
    this.panel.hidden = true;
    this.panel.replaceChildren();
    document.body.classList.remove('detail-open');
  }

  build() {
    const id = this.id;
    this.title = h('h2', {}, `#${id}`);
    this.stateBadge = h('span', { class: 'badge' });
    const close = h('button', { type: 'button', class: 'icon close', title: 'Close (Esc)', 'aria-label': 'Close',
                                onclick: () => this.onClose() }, '×');

    this.retryButton = h('button', { type: 'button', dataset: { action: 'retry' } }, 'Retry');
    this.retryButton.addEventListener('click', () => this.actions.retry(id, this.retryButton));
    this.cancelButton = h('button', { type: 'button', dataset: { action: 'cancel' } }, 'Cancel');
    this.cancelButton.addEventListener('click', () => this.actions.cancel(id, this.cancelButton));
    this.deleteButton = confirmingButton('Delete', { class: 'danger', 'data-action': 'delete' }, async (button) => {
      if (await this.actions.remove(id, button) && this.id === id) this.showGone();
    });
    this.priorityInput = h('input', { type: 'number', step: 1, class: 'priority-input', 'aria-label': 'Priority' });
    this.priorityButton = h('button', { type: 'submit' }, 'Set priority');
    const priorityForm = h('form', { class: 'priority-form' }, this.priorityInput, this.priorityButton);
    priorityForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = Number(this.priorityInput.value);
      if (!Number.isInteger(value)) return;
      this.actions.setPriority(id, value, this.priorityButton).then(() => this.priorityInput.blur());
    });

    this.progress = progressBar();
    this.stage = h('span', { class: 'stage' });
    this.progressRow = h('div', { class: 'detail-progress' }, this.progress.node, this.stage);
    this.fields = h('dl', { class: 'fields' });
    this.error = h('pre', { class: 'block error-text' });
    this.payload = h('pre', { class: 'block' });
    this.result = h('pre', { class: 'block' });
    this.checkpoint = h('pre', { class: 'block' });
    this.history = h('tbody');
    this.log = h('pre', { class: 'block log' });
    this.logInfo = h('span', { class: 'muted section-info' });
    this.errorSection = section('Error', this.error);
    this.resultSection = section('Result', this.result);
    this.checkpointSection = section('Checkpoint', this.checkpoint);
    this.message = h('p', { class: 'detail-message', hidden: true });

    this.panel.replaceChildren(
      h('header', { class: 'detail-header' }, this.title, this.stateBadge, h('span', { class: 'spacer' }), close),
      this.message,
      h('div', { class: 'detail-actions' }, this.retryButton, this.cancelButton, this.deleteButton, priorityForm),
      this.progressRow,
      h('div', { class: 'detail-body' },
        this.fields, this.errorSection, section('Payload', this.payload), this.resultSection, this.checkpointSection,
        section('History', h('table', { class: 'history' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Time'), h('th', {}, 'Transition'), h('th', { class: 'num' }, 'Att.'),
                                  h('th', {}, 'Detail'))), this.history)),
        section('Log', this.log, this.logInfo)));
  }

  // From a progress event.
  setProgress(id, progress, stage) {
    if (id !== this.id || !this.job || this.job.state !== 'running') return;
    this.progress.set(progress);
    this.stage.textContent = stage || '';
  }

  async reload() {
    if (this.id === null || this.gone) return;  // a deleted job is not asked for again
    const id = this.id;
    const generation = this.generation;
    clearTimeout(this.pollTimer);
    let job;
    let history;
    let log;
    try {
      [job, history, log] = await Promise.all([
        api('GET', `/api/v1/jobs/${id}`),
        api('GET', `/api/v1/jobs/${id}/history?after=${this.historySeq}`),
        api('GET', `/api/v1/jobs/${id}/log?after=${this.logSeq}`),
      ]);
    } catch (error) {
      if (generation !== this.generation) return;
      if (error.status === 404 || error.status === 400) {
        this.showGone(error.status === 400 ? `${JSON.stringify(String(id))} is not a job id.` : undefined);
        return;
      }
      throw error;
    }
    if (generation !== this.generation) return;
    this.render(job.job || job, history.history || [], log.log || []);
    if (this.job.state === 'running') {
      this.pollTimer = setTimeout(() => this.reload().catch(() => {}), LOG_POLL_MS);
    }
  }

  showGone(why = `There is no job #${this.id} (it may have been deleted or cleared).`) {
    this.job = null;
    this.gone = true;
    clearTimeout(this.pollTimer);
    this.message.hidden = false;
    this.message.textContent = why;
    for (const button of [this.retryButton, this.cancelButton, this.deleteButton, this.priorityButton]) {
      button.disabled = true;
    }
    this.panel.classList.add('gone');
  }

  render(job, history, log) {
    this.job = job;
    this.message.hidden = true;
    this.panel.classList.remove('gone');
    this.title.replaceChildren(`#${job.id} `, h('span', { class: 'detail-type' }, job.type));
    this.stateBadge.className = `badge state-${job.state}`;
    this.stateBadge.textContent = job.state;

    this.retryButton.disabled = !RETRYABLE_STATES.has(job.state);
    this.cancelButton.disabled = FINAL_STATES.has(job.state);
    this.deleteButton.disabled = job.state === 'running';
    this.priorityButton.disabled = FINAL_STATES.has(job.state);
    if (document.activeElement !== this.priorityInput) this.priorityInput.value = String(job.priority);

    this.progressRow.hidden = job.state !== 'running';
    this.progress.set(job.progress);
    this.stage.textContent = job.stage || '';

    this.renderFields(job);
    this.errorSection.hidden = !job.error;
    this.error.textContent = job.error || '';
    this.payload.textContent = prettyJson(job.payload ?? null);
    this.resultSection.hidden = job.result === null || job.result === undefined;
    this.result.textContent = this.resultSection.hidden ? '' : prettyJson(job.result);
    this.checkpointSection.hidden = job.checkpoint === null || job.checkpoint === undefined;
    this.checkpoint.textContent = this.checkpointSection.hidden ? '' : prettyJson(job.checkpoint);
    this.renderHistory(history);
    this.renderLog(log);
  }

  renderFields(job) {
    const rows = [];
    const add = (label, value) => {
      if (value === null || value === undefined || value === '') return;
      rows.push(h('dt', {}, label), h('dd', {}, value));
    };
    add('Queue', job.queue);
    if (job.type === 'shell') add('Command', h('span', { class: 'mono' }, describeJob(job)));
    add('Priority', String(job.priority));
    add('Attempt', `${job.attempt} (${job.failures} of ${job.max_attempts} failures allowed)`);
    add('Created', timeValue(job.created_at));
    add('Run at', timeValue(job.run_at));
    add('Started', timeValue(job.started_at));
    add('Finished', timeValue(job.finished_at));
    if (job.started_at && job.finished_at) {
      add('Took', formatDuration(Date.parse(job.finished_at) - Date.parse(job.started_at)));
    }
    add('Expires', timeValue(job.expires_at));
    if (job.timeout_ms) add('Timeout', formatDuration(job.timeout_ms));
    add('Unique key', job.unique_key);
    if (job.tags && job.tags.length) add('Tags', job.tags.map((tag) => h('span', { class: 'chip' }, tag)));
    if (job.depends_on && job.depends_on.length) {
      add('After', job.depends_on.map((dep) => h('a', { href: `#job/${dep}`, class: 'dep' }, `#${dep}`)));
    }
    if (job.needs_files && job.needs_files.length) {
      add('Needs files', job.needs_files.map((path) => h('div', { class: 'mono' }, path)));
    }
    add('Lease', job.lease_owner ? h('span', { class: 'mono' }, job.lease_owner) : null);
    this.fields.replaceChildren(...rows);
  }

  // `history` holds the entries after the last seen; they are appended.
  renderHistory(history) {
    const fresh = history.filter((entry) => entry.seq > this.historySeq);
    if (this.historySeq === 0 && fresh.length === 0) {
      this.history.replaceChildren(h('tr', {}, h('td', { class: 'empty', colspan: 4 }, 'No transitions recorded')));
      return;
    }
    if (fresh.length === 0) return;
    if (this.historySeq === 0) this.history.replaceChildren();
    this.historySeq = fresh[fresh.length - 1].seq;
    this.history.append(...fresh.map((entry) => h('tr', {},
      h('td', { class: 'mono', title: entry.at }, formatTime(entry.at).slice(5)),
      h('td', {},
        entry.from ? h('span', { class: `badge state-${entry.from}` }, entry.from) : h('span', { class: 'muted' }, 'new'),
        h('span', { class: 'arrow' }, '→'),
        h('span', { class: `badge state-${entry.to}` }, entry.to)),
      h('td', { class: 'num' }, String(entry.attempt ?? '')),
      h('td', { class: 'history-detail' }, entry.detail || ''))));
  }

  // `chunks` are the ones after the last seen; they are appended.
  renderLog(chunks) {
    const fresh = chunks.filter((chunk) => chunk.seq > this.logSeq);
    if (fresh.length > 0) {
      this.logSeq = fresh[fresh.length - 1].seq;
      this.logText += fresh.map((chunk) => chunk.text).join('');
      if (this.logText.length > MAX_LOG_CHARS) this.logText = this.logText.slice(-MAX_LOG_CHARS);
    }
    if (this.log.textContent === this.logText && this.logInfo.textContent) return;
    const atBottom = this.log.scrollTop + this.log.clientHeight >= this.log.scrollHeight - 4;
    this.log.textContent = this.logText;
    this.log.classList.toggle('empty-log', this.logText === '');
    const lines = this.logText.split('\n').filter((line) => line !== '').length;
    this.logInfo.textContent = `${lines} line${lines === 1 ? '' : 's'}`;
    if (atBottom) this.log.scrollTop = this.log.scrollHeight;
  }
}
