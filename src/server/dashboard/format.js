// How numbers, times and jobs read on the page.

export const STATES = ['scheduled', 'available', 'blocked', 'running', 'completed', 'failed', 'canceled', 'expired'];
export const FINAL_STATES = new Set(['completed', 'failed', 'canceled', 'expired']);
export const RETRYABLE_STATES = new Set(['failed', 'canceled', 'expired']);

const countFormat = new Intl.NumberFormat('en-US');

export function formatCount(n) {
  return countFormat.format(Number(n) || 0);
}

// 1536 → "1.5 KB", 1048576 → "1.0 MB".
export function formatBytes(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

// 0.423 → "42%"
export function formatPercent(fraction) {
  const value = Math.max(0, Math.min(1, Number(fraction) || 0));
  return `${Math.floor(value * 100)}%`;
}

// A span of milliseconds as "850ms", "12s", "4m 05s", "3h 20m", "2d 4h".
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

// "12s ago", "in 4m", "now".
export function formatRelative(iso, now = Date.now()) {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '';
  const seconds = Math.round((at - now) / 1000);
  const size = Math.abs(seconds);
  if (size < 2) return 'now';
  let text;
  if (size < 60) text = `${size}s`;
  else if (size < 3600) text = `${Math.floor(size / 60)}m`;
  else if (size < 86400) text = `${Math.floor(size / 3600)}h`;
  else text = `${Math.floor(size / 86400)}d`;
  return seconds < 0 ? `${text} ago` : `in ${text}`;
}

// An RFC 3339 time in the reader's time zone: "2024-05-01 14:03:22".
export function formatTime(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ` +
         `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

export function formatClock(iso) {
  return formatTime(iso).slice(11);
}

function quoteArgument(arg) {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

// One line saying what a job does: a shell job's command, else its payload.
export function describeJob(job) {
  const payload = job.payload;
  if (job.omitted?.payload) {
    const what = job.type === 'shell' ? 'command' : 'payload';
    return `${what} of ${formatBytes(job.omitted.payload)} (open the job to see it)`;
  }
  if (job.type === 'shell' && payload && Array.isArray(payload.command)) {
    return payload.command.map((arg) => quoteArgument(String(arg))).join(' ');
  }
  if (payload === null || payload === undefined) return '';
  if (typeof payload === 'object' && Object.keys(payload).length === 0) return '';
  return truncate(JSON.stringify(payload), 300);
}

export function truncate(text, max) {
  const value = String(text ?? '');
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

// The JSON fields of the detail panel, pretty-printed.
export function prettyJson(value) {
  return JSON.stringify(value, null, 2);
}

// When the thing a state is about happened, or will.
export function stateTime(job) {
  switch (job.state) {
    case 'scheduled': return job.run_at;
    case 'running': return job.started_at;
    case 'available':
    case 'blocked': return job.created_at;
    default: return job.finished_at || job.updated_at || job.created_at;
  }
}
