"""gunicorn settings for the scoring service (used in the image and by the benchmark).

Everything gunicorn writes goes to tmpfs, so the container root can be read-only.
"""

import os
import shutil
import tempfile


def _cpu_count() -> int:
    # sched_getaffinity honours CPU pinning (cpusets); os.cpu_count() would not.
    return len(os.sched_getaffinity(0))


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("GUNICORN_WORKERS", _cpu_count()))
# gevent: each worker serves its connections from one thread, so a request never waits
# for the GIL. With gthread (4 threads, the earlier default) every GIL release in a request
# (socket reads and writes, onnxruntime's run) could hand the GIL to another request's
# thread, and getting it back took up to milliseconds: single rows at 2,900 req/s had
# p50 3.6 ms and p99 7.7 ms on the ONNX service against 0.8 and 3.2 ms with gevent, which
# also answered 28% more single rows and 13% more 100-row batches at full load (medians
# of 5 interleaved runs of 3 s, wrk on the same 2 CPUs). A request's CPU work does not
# yield to other connections, but under the GIL threads did not run it in parallel
# either. worker_connections bounds the connections a worker holds open.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))  # for worker_class gthread
keepalive = 5
timeout = 30
graceful_timeout = 20
# Load the model once in the master: a model that fails verification stops the whole
# server with a non-zero exit instead of a crash-looping worker.
preload_app = True
wsgi_app = "serving.wsgi:app"
# The worker heartbeat file must be on tmpfs: the root filesystem may be read-only.
worker_tmp_dir = os.environ.get("GUNICORN_TMP_DIR", "/dev/shm")
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="liveline-metrics-", dir=worker_tmp_dir)
)


def on_starting(server):
    # Stale files from an earlier server would be summed into this one's metrics.
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server, worker):
    # Imported here, not at the top: prometheus_client picks its multiprocess mode at
    # import, so PROMETHEUS_MULTIPROC_DIR must be set first.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def pre_request(worker, req):
    # gevent: the worker's other connections go first. Reading a request that has already
    # arrived does not yield, so a client that sends its next request as soon as it has an
    # answer could keep its worker from every other connection: at full load (wrk, 16
    # connections) p99 was 118 ms without this yield and 22 ms with it, for 3% fewer
    # requests (medians of 8 interleaved runs of 3 s).
    if worker.cfg.worker_class_str == "gevent":
        import gevent  # type: ignore[import-untyped]  # no stubs in the dev env

        gevent.sleep(0)
