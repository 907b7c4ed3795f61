// The Schedules card: cron entries (quern cron add), each with its next and last
// firing and the last job it enqueued. Hidden while there are none.

import { KeyedRows, h } from './dom.js';
import { describeJob, formatRelative, formatTime, truncate } from './format.js';

function when(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('span', { title: formatTime(iso), dataset: { at: iso } }, formatRelative(iso));
}

export class CronTable {
  constructor(card, tbody, count) {
    this.card = card;
    this.count = count;
    this.rows = new KeyedRows(tbody);
  }

  update(entries) {
    this.card.hidden = entries.length === 0;
    this.count.textContent = entries.length ? String(entries.length) : '';
    this.rows.render(entries, (entry) => entry.name, (entry) => JSON.stringify(entry), (entry) => this.buildRow(entry));
  }

  buildRow(entry) {
    const command = describeJob(entry);
    return h('tr', { dataset: { cron: entry.name } },
      h('td', { class: 'cron-name' }, entry.name),
      h('td', {}, h('code', {}, entry.schedule)),
      h('td', { class: 'cron-next' }, when(entry.next_run_at)),
      h('td', { class: 'cron-last' }, when(entry.last_run_at)),
      h('td', {}, entry.last_job_id ? h('a', { href: `#job/${entry.last_job_id}` }, `#${entry.last_job_id}`)
                                   : h('span', { class: 'muted' }, '—')),
      h('td', {}, entry.queue),
      h('td', { class: 'cron-job', title: command }, entry.type === 'shell' ? truncate(command, 120)
                                                                            : `${entry.type} ${truncate(command, 100)}`));
  }
}
