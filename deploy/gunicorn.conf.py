"""gunicorn's settings for the supervised web process (deploy/systemd/, deploy/supervisord.conf).

From the environment, with production defaults: OPSKAIZEN_BIND (default 127.0.0.1:8000, behind a
reverse proxy or load balancer; comma-separate several addresses) and WEB_CONCURRENCY (worker
processes, default 4). Access and error logs go to stdout/stderr, i.e. to the journal or to
supervisord's log files. On TERM (a stop or restart by the supervisor) requests in flight get
GRACEFUL seconds to finish.
"""

import os

bind = os.environ.get("OPSKAIZEN_BIND", "127.0.0.1:8000").split(",")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
accesslog = "-"
errorlog = "-"
timeout = 30
graceful_timeout = 25  # shorter than the units' TimeoutStopSec / supervisord's stopwaitsecs (30 s)

# Prometheus (config/prometheus.py): with PROMETHEUS_MULTIPROC_DIR set, each worker keeps its
# request histogram in files there and /metrics adds every worker's up. The folder is emptied when
# gunicorn starts (values of a previous run would be counted again), and a worker that exits has its
# live gauges dropped; its counters and histograms stay in the sums, as prometheus-client intends.


def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
