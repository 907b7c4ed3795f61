// The throughput chart: jobs completed and failed per minute over the last hour, as
// stacked bars in an inline SVG drawn here (no chart library).

import { h, s } from './dom.js';
import { formatCount } from './format.js';

const MINUTES = 60;
const MINUTE_MS = 60000;
const MIN_HEIGHT = 150;
const PAD = { top: 10, right: 6, bottom: 20, left: 40 };

// The smallest 1, 2, 4, 6 or 8 × 10^k at or above n (at least 1): round gridlines,
// and an even top so the middle line is a whole number of jobs too.
function niceCeiling(n) {
  if (n <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 4, 6, 8, 10]) {
    if (step * power >= n) return step * power;
  }
  return 10 * power;
}

function clockLabel(ms) {
  const at = new Date(ms);
  return `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
}

// Sixty one-minute slots ending with the current minute; the API leaves out empty ones.
function toSlots(buckets, nowMs) {
  let endMinute = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
  for (const bucket of buckets) endMinute = Math.max(endMinute, Date.parse(bucket.minute) || 0);
  const slots = [];
  for (let i = MINUTES - 1; i >= 0; i--) slots.push({ minute: endMinute - i * MINUTE_MS, completed: 0, failed: 0 });
  const first = slots[0].minute;
  for (const bucket of buckets) {
    const index = Math.round(((Date.parse(bucket.minute) || 0) - first) / MINUTE_MS);
    if (index < 0 || index >= MINUTES) continue;
    slots[index].completed += Number(bucket.completed) || 0;
    slots[index].failed += Number(bucket.failed) || 0;
  }
  return slots;
}

export class ThroughputChart {
  constructor(container, summary) {
    this.container = container;
    this.summary = summary;
    this.buckets = [];
    this.width = 0;
    this.height = 0;
    // The chart fills its card, which is as tall as the queues card beside it.
    new ResizeObserver(() => {
      if (this.container.clientWidth !== this.width || this.container.clientHeight !== this.height) this.draw();
    }).observe(container);
  }

  update(buckets) {
    this.buckets = Array.isArray(buckets) ? buckets : [];
    this.draw();
  }

  draw() {
    this.width = this.container.clientWidth;
    this.height = this.container.clientHeight;
    const style = getComputedStyle(this.container);
    const width = Math.max(240, Math.floor(this.width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)));
    const height = Math.max(MIN_HEIGHT, Math.floor(this.height - parseFloat(style.paddingTop) -
                                                   parseFloat(style.paddingBottom)));
    const slots = toSlots(this.buckets, Date.now());
    const totalCompleted = slots.reduce((sum, slot) => sum + slot.completed, 0);
    const totalFailed = slots.reduce((sum, slot) => sum + slot.failed, 0);
    const peak = Math.max(0, ...slots.map((slot) => slot.completed + slot.failed));
    const top = niceCeiling(peak);

    const plotWidth = width - PAD.left - PAD.right;
    const plotHeight = height - PAD.top - PAD.bottom;
    const slotWidth = plotWidth / MINUTES;
    const gap = slotWidth > 6 ? 2 : slotWidth > 3 ? 1 : 0;
    const y = (value) => PAD.top + plotHeight - (value / top) * plotHeight;

    const svg = s('svg', {
      class: 'chart-svg', width, height: height, viewBox: `0 0 ${width} ${height}`, role: 'img',
      'aria-label': `Jobs per minute over the last hour: ${totalCompleted} completed, ${totalFailed} failed`,
    });

    for (const value of [0, top / 2, top].filter(Number.isInteger)) {
      const lineY = Math.round(y(value)) + 0.5;
      svg.append(
        s('line', { class: value === 0 ? 'axis' : 'grid', x1: PAD.left, x2: width - PAD.right, y1: lineY, y2: lineY }),
        s('text', { class: 'tick', x: PAD.left - 6, y: lineY + 3.5, 'text-anchor': 'end' },
          formatCount(value)));
    }

    slots.forEach((slot, i) => {
      const x = PAD.left + i * slotWidth;
      const group = s('g', { class: 'slot' },
        s('title', {}, `${clockLabel(slot.minute)}  ${formatCount(slot.completed)} completed, ${formatCount(slot.failed)} failed`),
        s('rect', { class: 'hit', x, y: PAD.top, width: slotWidth, height: plotHeight }));
      const barX = x + gap / 2;
      const barWidth = Math.max(1, slotWidth - gap);
      if (slot.completed > 0) {
        group.append(s('rect', { class: 'bar-completed', x: barX, width: barWidth,
                                 y: y(slot.completed), height: y(0) - y(slot.completed) }));
      }
      if (slot.failed > 0) {
        const base = slot.completed;
        group.append(s('rect', { class: 'bar-failed', x: barX, width: barWidth,
                                 y: y(base + slot.failed), height: y(base) - y(base + slot.failed) }));
      }
      svg.append(group);
    });

    for (let i = 0; i <= MINUTES; i += 15) {
      const index = Math.min(i, MINUTES - 1);
      const x = PAD.left + index * slotWidth + (i === MINUTES ? slotWidth : 0);
      const anchor = i === 0 ? 'start' : i === MINUTES ? 'end' : 'middle';
      const label = i === MINUTES ? 'now' : clockLabel(slots[index].minute);
      svg.append(s('text', { class: 'tick', x, y: height - 5, 'text-anchor': anchor }, label));
    }

    if (peak === 0) {
      svg.append(s('text', { class: 'chart-empty', x: PAD.left + plotWidth / 2, y: PAD.top + plotHeight / 2,
                             'text-anchor': 'middle' }, 'No job finished in the last hour'));
    }
    this.container.replaceChildren(svg);

    const lastMinute = slots[MINUTES - 2];  // the last whole minute
    this.summary.replaceChildren(
      h('span', { class: 'legend legend-completed' }, h('span', { class: 'legend-count' }, formatCount(totalCompleted)),
        ' completed'),
      h('span', { class: 'legend legend-failed' }, h('span', { class: 'legend-count' }, formatCount(totalFailed)),
        ' failed'),
      h('span', { class: 'muted' }, `${formatCount(lastMinute.completed + lastMinute.failed)}/min`));
  }
}
