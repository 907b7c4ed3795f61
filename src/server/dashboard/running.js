// Running jobs, with progress bars and stages that move with the event stream (a
// progress event updates its row in place; no request is made for it).

import { h, KeyedRows } from './dom.js';
import { describeJob, formatCount, formatDuration, formatTime } from './format.js';
import { progressBar } from './progress.js';

export class RunningJobs {
  constructor(tbody, countLabel, { actions }) {
    this.rows = new KeyedRows(tbody);
    this.countLabel = countLabel;
    this.actions = actions;
    this.parts = new Map();  // job id → {setProgress, stage}
  }

  // How many run in all (from the stats); the table shows the newest 50.
  setTotal(total) {
    this.total = total;
    this.updateCount();
  }

  updateCount() {
    const shown = this.parts.size;
    const total = Math.max(this.total ?? 0, shown);
    const text = total > shown ? `${formatCount(shown)} of ${formatCount(total)}` : formatCount(total);
    if (this.countLabel.textContent !== text) this.countLabel.textContent = text;
  }

  update(jobs) {
    if (jobs.length === 0) {
      this.parts.clear();
      this.rows.clear(h('tr', {}, h('td', { class: 'empty', colspan: 7 }, 'Nothing is running')));
      this.updateCount();
      return;
    }
    const parts = new Map();
    this.rows.render(jobs, (job) => job.id, (job) => `${job.id}:${job.attempt}`, (job) => {
      const row = this.buildRow(job);
      this.parts.set(job.id, row.parts);
      return row.node;
    });
    for (const job of jobs) {
      const part = this.parts.get(job.id);
      part.set(job.progress, job.stage);
      parts.set(job.id, part);
    }
    this.parts = parts;
    this.updateCount();
  }

  // From a progress event; false if the job is not shown (the caller refreshes).
  setProgress(id, progress, stage) {
    const part = this.parts.get(id);
    if (!part) return false;
    part.set(progress, stage);
    return true;
  }

  buildRow(job) {
    const bar = progressBar();
    const stage = h('span', { class: 'stage' });
    const cancel = h('button', { type: 'button', class: 'small', dataset: { action: 'cancel' } }, 'Cancel');
    cancel.addEventListener('click', (event) => {
      event.stopPropagation();
      this.actions.cancel(job.id, cancel);
    });
    const started = job.started_at || job.updated_at;
    const node = h('tr', { class: 'clickable', dataset: { jobId: job.id, href: `#job/${job.id}` } },
      h('td', { class: 'id' }, h('a', { href: `#job/${job.id}` }, `#${job.id}`)),
      h('td', { class: 'job-type', title: `${job.type} in ${job.queue}` },
        h('span', { class: 'type' }, job.type), h('span', { class: 'queue-tag' }, job.queue)),
      h('td', { class: 'what', title: describeJob(job) }, describeJob(job)),
      h('td', { class: 'stage-cell' }, stage),
      h('td', { class: 'progress-cell' }, bar.node),
      h('td', { class: 'num elapsed', title: started ? `started ${formatTime(started)}` : '',
                dataset: started ? { since: started } : {} },
        started ? formatDuration(Date.now() - Date.parse(started)) : ''),
      h('td', { class: 'actions' }, cancel));
    const set = (progress, stageText) => {
      bar.set(progress);
      const text = stageText || '';
      if (stage.textContent !== text) {
        stage.textContent = text;
        stage.title = text;
      }
    };
    return { node, parts: { set } };
  }
}
