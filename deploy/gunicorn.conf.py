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
