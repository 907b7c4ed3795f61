// What the buttons do: each action is one API call; the page then refreshes from the
// server (and the event stream), so what it shows is always what the store holds.

import { api } from './api.js';
import { notify } from './notify.js';

const CONFIRM_MS = 3000;

function jobPath(id, action = '') {
  return `/api/v1/jobs/${encodeURIComponent(id)}${action ? `/${action}` : ''}`;
}

// The first number in an answer such as {"retried": 12}, for the message.
function countIn(answer) {
  if (answer && typeof answer === 'object') {
    for (const value of Object.values(answer)) {
      if (typeof value === 'number') return value;
    }
  }
  return null;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export class Actions {
  constructor(requestRefresh) {
    this.requestRefresh = requestRefresh;
  }

  // Runs one API call with its button disabled; reports the outcome either way.
  // Resolves to true when the call succeeded, false when it failed.
  async run(button, failureLabel, call, successMessage) {
    if (button) button.disabled = true;
    try {
      const answer = await call();
      const message = successMessage(answer);
      if (message) notify(message, 'ok');
      return true;
    } catch (error) {
      notify(`${failureLabel}: ${error.message}`, 'error');
      return false;
    } finally {
      if (button) button.disabled = false;
      this.requestRefresh({ soon: true });
    }
  }

  retry(id, button) {
    return this.run(button, `Retry #${id}`, () => api('POST', jobPath(id, 'retry'), {}), () => `Job #${id} retried`);
  }

  cancel(id, button) {
    return this.run(button, `Cancel #${id}`, () => api('POST', jobPath(id, 'cancel'), {}), () => `Job #${id} canceled`);
  }

  remove(id, button) {
    return this.run(button, `Delete #${id}`, () => api('DELETE', jobPath(id)), () => `Job #${id} deleted`);
  }

  setPriority(id, priority, button) {
    return this.run(button, `Priority of #${id}`, () => api('POST', jobPath(id, 'priority'), { priority }),
                    () => `Job #${id} now has priority ${priority}`);
  }

  retryFailed(queue, button) {
    const body = queue ? { queue } : {};
    return this.run(button, 'Retry failed jobs', () => api('POST', '/api/v1/jobs/retry-failed', body), (answer) => {
      const n = countIn(answer);
      return n === null ? 'Failed jobs retried' : `${plural(n, 'failed job')} retried`;
    });
  }

  clearCompleted(queue, button) {
    const body = queue ? { states: ['completed'], queue } : { states: ['completed'] };
    return this.run(button, 'Clear completed jobs', () => api('POST', '/api/v1/jobs/clear', body),
                    (answer) => {
                      const n = countIn(answer);
                      return n === null ? 'Completed jobs cleared' : `${plural(n, 'completed job')} cleared`;
                    });
  }

  setPaused(queue, paused, button) {
    const verb = paused ? 'pause' : 'resume';
    return this.run(button, `${paused ? 'Pause' : 'Resume'} ${queue}`,
                    () => api('POST', `/api/v1/queues/${encodeURIComponent(queue)}/${verb}`, {}),
                    () => `Queue ${queue} ${paused ? 'paused' : 'resumed'}`);
  }
}

// A button for something that cannot be undone: the first click arms it ("Sure?"),
// a second click within three seconds does it.
// setLabel(text) renames it.
export function confirmingButton(label, props, action) {
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = label;
  button.setLabel = (text) => {
    label = text;
    if (timer === null) button.textContent = label;
  };
  for (const [key, value] of Object.entries(props)) button.setAttribute(key, value);
  let timer = null;
  const disarm = () => {
    clearTimeout(timer);
    timer = null;
    button.classList.remove('armed');
    button.textContent = label;
  };
  button.addEventListener('click', (event) => {
    event.stopPropagation();
    if (timer === null) {
      button.classList.add('armed');
      button.textContent = `${label}: sure?`;
      timer = setTimeout(disarm, CONFIRM_MS);
      return;
    }
    disarm();
    action(button);
  });
  return button;
}
