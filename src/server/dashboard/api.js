// Calls to Quern's HTTP API. When the server has a token, every /api call needs it: on
// a 401 the page asks for it once (one dialog for every call that was refused) and keeps
// it in sessionStorage for this tab.

const TOKEN_KEY = 'quern.token';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let tokenRequest = null;  // the open dialog's promise, shared by concurrent 401s
let tokenDeclined = false;  // the user closed the dialog: stop asking until they sign in

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function authHeaders() {
  const value = token();
  return value ? { Authorization: `Bearer ${value}` } : {};
}

// Shows the token dialog; resolves when a token was entered, rejects when dismissed.
export function askForToken({ force = false } = {}) {
  if (tokenDeclined && !force) return Promise.reject(new ApiError(401, 'unauthenticated', 'a token is needed'));
  if (tokenRequest) return tokenRequest;
  const dialog = document.getElementById('token-dialog');
  const input = dialog.querySelector('input[name="token"]');
  const hint = dialog.querySelector('.dialog-hint');
  hint.textContent = token() ? 'That token was refused. Enter the token quern serve was started with.'
                             : 'This server needs the token quern serve was started with (--token).';
  input.value = '';
  // Cancel closes the dialog itself (it is no submit button, so Enter uses the token),
  // and a dialog closed with Escape must not read the last time's answer.
  dialog.querySelector('button[value="cancel"]').onclick = () => dialog.close('cancel');
  dialog.returnValue = '';
  tokenRequest = new Promise((resolve, reject) => {
    dialog.addEventListener('close', () => {
      tokenRequest = null;
      const entered = input.value.trim();
      if (dialog.returnValue === 'ok' && entered) {
        sessionStorage.setItem(TOKEN_KEY, entered);
        tokenDeclined = false;
        resolve(entered);
      } else {
        tokenDeclined = true;
        document.body.classList.add('signed-out');
        reject(new ApiError(401, 'unauthenticated', 'a token is needed'));
      }
    }, { once: true });
  });
  document.body.classList.remove('signed-out');
  dialog.showModal();
  input.focus();
  return tokenRequest;
}

async function errorFrom(response) {
  let code = `http_${response.status}`;
  let message = `${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(response.status, code, message);
}

// api('GET', '/api/v1/stats'), api('POST', '/api/v1/jobs/7/retry', {}): the parsed
// JSON answer; throws ApiError for an error answer.
export async function api(method, path, body) {
  for (;;) {
    const sentToken = token();
    const headers = { Accept: 'application/json', ...authHeaders() };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      // Sent before a token was entered: try that one first. Else ask again (the dialog
      // says the token was refused) until one works or the user cancels, so the call
      // that asked gets its answer at once.
      if (token() === sentToken) await askForToken();
      continue;
    }
    if (!response.ok) throw await errorFrom(response);
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }
}

// A query string from an object, leaving out empty values.
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
