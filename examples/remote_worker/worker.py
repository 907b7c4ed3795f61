#!/usr/bin/env python3
"""A Quern remote worker: leases jobs from `quern serve` over HTTP and runs them.

Standard library only (urllib). It shows the whole protocol of a remote worker:

  POST /api/v1/leases               {"worker","types","queues","max","wait","lease"}
  POST /api/v1/jobs/{id}/heartbeat  {"attempt","progress","stage","lease"}
  POST /api/v1/jobs/{id}/complete   {"attempt","result"}
  POST /api/v1/jobs/{id}/fail       {"attempt","error","retry","snooze"}

Every call after the lease carries the attempt the job was leased at: it is the
fencing token. A 409 answer means the job is no longer ours (its lease expired and it
was rescued, or it was canceled): the worker drops it and changes nothing.

Run a command for each job (the payload as JSON on its stdin; exit 0 completes the
job with its stdout as the result, 75 snoozes it, 65 fails it for good, anything else
is a failed attempt that Quern retries with backoff):

    worker.py --url http://127.0.0.1:7070 --type resize -- ./resize.sh

Without a command it runs the built-in `sum` handler: {"numbers":[1,2,3]} -> {"sum":6}.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


class QuernError(Exception):
    """An error answer of the API: {"error":{"code","message"}} with its HTTP status."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


class Lost(Exception):
    """The job is no longer ours (409 or 404): drop it."""


class PermanentFailure(Exception):
    """Raised by a handler: fail the job now, without retrying it."""


class Snooze(Exception):
    """Raised by a handler: run the job again after `seconds`, not counted as a failure."""

    def __init__(self, seconds):
        super().__init__(f"snooze {seconds}s")
        self.seconds = seconds


class QuernClient:
    def __init__(self, url, token=None):
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Accept", "application/json")
        if self.token:
            request.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            code, message = "http_%d" % error.code, error.reason
            try:
                detail = json.loads(error.read())["error"]
                code, message = detail["code"], detail["message"]
            except (ValueError, KeyError, TypeError):
                pass
            raise QuernError(error.code, code, message) from None

    def lease(self, worker, types, queues, wait, lease):
        body = {"worker": worker, "types": types, "queues": queues, "max": 1, "wait": wait, "lease": lease}
        # The socket waits longer than the server may hold the long-poll.
        return self.call("POST", "/api/v1/leases", body, timeout=wait + 30)["jobs"]

    def _fenced(self, job, action, body):
        body = dict(body, attempt=job["attempt"])
        try:
            return self.call("POST", "/api/v1/jobs/%d/%s" % (job["id"], action), body)
        except QuernError as error:
            if error.status in (404, 409):
                raise Lost(str(error)) from None
            raise

    def heartbeat(self, job, lease, progress=None, stage=None):
        body = {"lease": lease}
        if progress is not None:
            body["progress"] = progress
        if stage is not None:
            body["stage"] = stage
        return self._fenced(job, "heartbeat", body)

    def complete(self, job, result):
        return self._fenced(job, "complete", {"result": result})

    def fail(self, job, error, retry=True, snooze=None):
        body = {"error": error, "retry": retry}
        if snooze is not None:
            body = {"snooze": snooze}
        return self._fenced(job, "fail", body)


class Run:
    """One leased job while its handler runs: reports progress, keeps the lease alive."""

    def __init__(self, client, job, lease):
        self.client = client
        self.job = job
        self.lease = lease
        self.lost = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._progress = None
        self._stage = None
        self._beater = threading.Thread(target=self._beat, daemon=True)
        self._beater.start()

    def report(self, progress=None, stage=None):
        """Progress in [0, 1] and a stage name, sent with the next heartbeat."""
        with self._lock:
            if progress is not None:
                self._progress = progress
            if stage is not None:
                self._stage = stage

    def finish(self):
        self._done.set()
        self._beater.join()

    def _beat(self):
        interval = max(self.lease / 3.0, 0.05)
        while not self._done.wait(interval):
            with self._lock:
                progress, stage = self._progress, self._stage
            try:
                self.client.heartbeat(self.job, self.lease, progress, stage)
            except Lost:
                self.lost.set()
                return
            except (QuernError, OSError) as error:
                log("heartbeat of job %d failed (will retry): %s" % (self.job["id"], error))


def sum_handler(job, run):
    """The demo handler: {"numbers": [...]} -> {"sum": n}."""
    numbers = job["payload"].get("numbers") if isinstance(job["payload"], dict) else None
    if not isinstance(numbers, list) or not all(isinstance(n, (int, float)) for n in numbers):
        raise PermanentFailure("payload must be {\"numbers\": [numbers]}")
    total = 0
    for index, number in enumerate(numbers):
        total += number
        run.report(progress=(index + 1) / len(numbers), stage="adding")
    return {"sum": total}


def command_handler(command):
    """Runs `command` with the payload on stdin; its stdout (JSON if it is) is the result."""

    def handle(job, run):
        env = dict(os.environ, QUERN_JOB_ID=str(job["id"]), QUERN_ATTEMPT=str(job["attempt"]))
        child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                 start_new_session=True)
        reader = threading.Thread(target=lambda: setattr(run, "output", child.communicate(json.dumps(job["payload"]).encode())[0]))
        reader.start()
        stopped = False
        while reader.is_alive():
            reader.join(0.1)
            if run.lost.is_set() and not stopped:  # canceled or taken over: stop its whole group
                os.killpg(child.pid, signal.SIGTERM)
                stopped = True
        output = getattr(run, "output", b"").decode(errors="replace")
        if child.returncode == 75:
            raise Snooze(1)
        if child.returncode == 65:
            raise PermanentFailure("exit status 65")
        if child.returncode != 0:
            raise RuntimeError("exit status %d" % child.returncode)
        try:
            return json.loads(output)
        except ValueError:
            return {"output": output}

    return handle


def run_one(client, job, handler, lease):
    run = Run(client, job, lease)
    try:
        try:
            result = handler(job, run)
        finally:
            run.finish()
        if run.lost.is_set():
            raise Lost("lease lost while running")
        client.complete(job, result)
        log("job %d completed" % job["id"])
    except Lost as lost:
        log("job %d is no longer ours (%s); dropped" % (job["id"], lost))
    except Snooze as snooze:
        drop_if_lost(lambda: client.fail(job, "", snooze=snooze.seconds), job)
    except PermanentFailure as failure:
        drop_if_lost(lambda: client.fail(job, str(failure), retry=False), job)
        log("job %d failed: %s" % (job["id"], failure))
    except Exception as error:  # a failed attempt: Quern retries it with backoff
        drop_if_lost(lambda: client.fail(job, "%s: %s" % (type(error).__name__, error)), job)
        log("job %d failed (will be retried): %s" % (job["id"], error))


def drop_if_lost(call, job):
    try:
        call()
    except Lost as lost:
        log("job %d is no longer ours (%s); dropped" % (job["id"], lost))


def log(message):
    print("worker: " + message, file=sys.stderr, flush=True)


def work(client, args, handler, stopping, last_job):
    while not stopping.is_set():
        if args.exit_when_idle is not None and time.monotonic() - last_job[0] > args.exit_when_idle:
            return
        wait = args.wait if args.exit_when_idle is None else min(args.wait, args.exit_when_idle)
        try:
            jobs = client.lease(args.worker, args.type, args.queue, wait, args.lease)
        except (QuernError, OSError) as error:
            log("lease failed (retrying in 1s): %s" % error)
            stopping.wait(1)
            continue
        for job in jobs:
            last_job[0] = time.monotonic()
            run_one(client, job, handler, args.lease)
            last_job[0] = time.monotonic()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("QUERN_URL", "http://127.0.0.1:7070"))
    parser.add_argument("--token", default=os.environ.get("QUERN_TOKEN"))
    parser.add_argument("--worker", default="%s-%d" % (socket.gethostname(), os.getpid()),
                        help="this worker's name (shown as the lease owner)")
    parser.add_argument("--type", action="append", default=[], help="job type to take (repeatable; default all)")
    parser.add_argument("--queue", action="append", default=[], help="queue to take from (repeatable; default all)")
    parser.add_argument("--concurrency", type=int, default=1, help="jobs run at once")
    parser.add_argument("--lease", type=float, default=30, help="lease in seconds, renewed by heartbeats")
    parser.add_argument("--wait", type=float, default=30, help="seconds a lease request waits for a job")
    parser.add_argument("--exit-when-idle", type=float, default=None, metavar="SECONDS",
                        help="exit once no job came for this long")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...] to run for each job")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    handler = command_handler(command) if command else sum_handler
    client = QuernClient(args.url, args.token)

    # SIGINT/SIGTERM: take no new job; the running ones finish (a long-poll in flight
    # ends within --wait seconds).
    stopping = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stopping.set())
    last_job = [time.monotonic()]
    threads = [threading.Thread(target=work, args=(client, args, handler, stopping, last_job))
               for _ in range(max(args.concurrency, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
    log("stopped")


if __name__ == "__main__":
    main()
