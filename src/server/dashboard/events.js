// The server's event stream (GET /api/v1/events, server-sent events). It is read with
// fetch() rather than EventSource because EventSource cannot send the Authorization
// header; this reader parses the stream itself, reconnects with a growing delay and
// resumes after the last event id it saw.

import { askForToken, authHeaders } from './api.js';

const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 10000;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Splits a byte stream into SSE events: calls onEvent(type, data, id) for each.
async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let type = '';
  let data = [];
  let id = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();  // an unfinished line waits for the next chunk
    for (const line of lines) {
      if (line === '') {
        if (data.length > 0) onEvent(type || 'message', data.join('\n'), id);
        type = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;  // a comment, e.g. a keep-alive
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
  }
}

// Connects and stays connected. handlers: onEvent(type, payload) with parsed JSON,
// onStatus('live' | 'reconnecting' | 'signed-out'), onReconnect() after a gap in which
// events may have been missed.
export function connectEvents({ onEvent, onStatus, onReconnect }) {
  let lastId = null;
  let retryMs = MIN_RETRY_MS;
  let connectedBefore = false;

  async function loop() {
    for (;;) {
      try {
        const headers = { Accept: 'text/event-stream', ...authHeaders() };
        if (lastId !== null) headers['Last-Event-ID'] = lastId;
        const response = await fetch('/api/v1/events', { headers, cache: 'no-store' });
        if (response.status === 401) {
          onStatus('signed-out');
          await askForToken().catch(() => sleep(MAX_RETRY_MS));
          continue;
        }
        if (!response.ok || !response.body) throw new Error(`event stream: ${response.status}`);
        onStatus('live');
        if (connectedBefore) onReconnect();
        connectedBefore = true;
        retryMs = MIN_RETRY_MS;
        await readEvents(response.body, (type, data, id) => {
          if (id !== null) lastId = id;
          let payload;
          try {
            payload = JSON.parse(data);
          } catch {
            return;  // not ours to show
          }
          onEvent(type, payload);
        });
      } catch {
        // The connection dropped or could not be made: try again below.
      }
      onStatus('reconnecting');
      await sleep(retryMs);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    }
  }
  loop();
}
