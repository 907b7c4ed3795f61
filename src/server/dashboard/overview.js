// The top of the page: counts by state (one tile each) and the queues table with
// per-queue counts and pause/resume. Both come from GET /api/v1/stats, whose counts the
// store keeps, so they cost the same with a million jobs as with ten.

import { h, KeyedRows } from './dom.js';
import { STATES, formatCount } from './format.js';

const QUEUE_COLUMNS = ['available', 'running', 'scheduled', 'blocked', 'failed', 'completed'];

// The per-queue counts, whichever key the server uses.
export function queueCounts(queue) {
  return queue.states || queue.counts || {};
}

export class StateTiles {
  constructor(container, onPick) {
    this.tiles = new Map();
    for (const state of STATES) {
      const count = h('span', { class: 'tile-count' }, '–');
      const tile = h('button', { type: 'button', class: `tile state-${state}`, dataset: { state },
                                 onclick: () => onPick(state) },
                     count, h('span', { class: 'tile-label' }, state));
      this.tiles.set(state, { tile, count });
      container.append(tile);
    }
  }

  update(totals) {
    for (const [state, { count }] of this.tiles) {
      const text = formatCount(totals[state]);
      if (count.textContent !== text) count.textContent = text;
      count.classList.toggle('zero', !totals[state]);
    }
  }

  setActive(state) {
    for (const [name, { tile }] of this.tiles) tile.classList.toggle('active', name === state);
  }
}

export class QueueTable {
  constructor(tbody, { actions, onPick }) {
    this.rows = new KeyedRows(tbody);
    this.actions = actions;
    this.onPick = onPick;
  }

  update(queues) {
    if (queues.length === 0) {
      this.rows.clear(h('tr', {}, h('td', { class: 'empty', colspan: QUEUE_COLUMNS.length + 2 }, 'No queues yet')));
      return;
    }
    this.rows.render(queues, (queue) => queue.name,
                     (queue) => JSON.stringify([queue.paused, queueCounts(queue)]),
                     (queue) => this.buildRow(queue));
  }

  buildRow(queue) {
    const counts = queueCounts(queue);
    const toggle = h('button', { type: 'button', class: queue.paused ? 'small primary' : 'small',
                                 dataset: { action: queue.paused ? 'resume' : 'pause' } },
                     queue.paused ? 'Resume' : 'Pause');
    toggle.addEventListener('click', () => this.actions.setPaused(queue.name, !queue.paused, toggle));
    return h('tr', { class: queue.paused ? 'paused' : '', dataset: { queue: queue.name } },
      h('td', { class: 'queue-name' },
        h('button', { type: 'button', class: 'link', title: `Show the jobs of ${queue.name}`,
                      onclick: () => this.onPick(queue.name) }, queue.name),
        queue.paused ? h('span', { class: 'badge badge-paused' }, 'paused') : null),
      QUEUE_COLUMNS.map((state) => h('td', { class: `num${counts[state] ? ` count-${state}` : ' zero'}` },
                                     formatCount(counts[state]))),
      h('td', { class: 'actions' }, toggle));
  }
}
