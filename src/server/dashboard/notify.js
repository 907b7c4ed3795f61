// Short messages in the corner: what an action did, or why it failed.

const SHOW_MS = 4000;

export function notify(message, kind = 'info') {
  const area = document.getElementById('toasts');
  const toast = document.createElement('div');
  toast.className = `toast toast-${kind}`;
  toast.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  toast.textContent = message;
  area.append(toast);
  setTimeout(() => toast.remove(), kind === 'error' ? SHOW_MS * 2 : SHOW_MS);
}
