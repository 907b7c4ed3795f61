// Runs an async refresh at most once per interval however often it is asked for: a
// burst of a thousand events costs one round of requests a second, not a thousand.

export function throttle(refresh, intervalMs, onError) {
  let lastStart = -Infinity;
  let timer = null;
  let running = false;
  let again = false;

  async function run() {
    timer = null;
    running = true;
    lastStart = performance.now();
    try {
      await refresh();
    } catch (error) {
      onError(error);
    } finally {
      running = false;
      if (again) {
        again = false;
        request();
      }
    }
  }

  // soon: a user's own action, so run as soon as the previous run ends.
  function request({ soon = false } = {}) {
    if (running) {
      again = true;
      return;
    }
    const wait = soon ? 0 : Math.max(0, lastStart + intervalMs - performance.now());
    if (timer !== null) {
      if (!soon) return;
      clearTimeout(timer);
    }
    timer = setTimeout(run, wait);
  }
  return request;
}
