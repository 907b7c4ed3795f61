// A progress bar for a running job; set() moves it in place (the width animates).

import { h } from './dom.js';
import { formatPercent } from './format.js';

export function progressBar() {
  const fill = h('div', { class: 'progress-fill' });
  const label = h('span', { class: 'progress-label' }, '0%');
  const bar = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100,
                         'aria-valuenow': 0 }, h('div', { class: 'progress-track' }, fill), label);
  const set = (fraction) => {
    const value = Math.max(0, Math.min(1, Number(fraction) || 0));
    fill.style.width = `${(value * 100).toFixed(1)}%`;
    const text = formatPercent(value);
    if (label.textContent !== text) label.textContent = text;
    bar.setAttribute('aria-valuenow', String(Math.floor(value * 100)));
  };
  return { node: bar, set };
}
