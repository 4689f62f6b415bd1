"""The product behind a real PgBouncer in transaction-pooling mode (Debian's pgbouncer package).

Two processes run the product's own entry points at once through a pool of ONE server connection:
whatever one leaves in the session (a prepared statement, a server-side cursor, a SET) the other
meets. They must both succeed, and PgBouncer's own statistics must show the traffic went through it.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from incidents.models import Incident

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
WORKLOAD = Path(__file__).with_name("workload.py")
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def pgbouncer():
    if not os.path.exists(PGBOUNCER):
        message = "pgbouncer is not installed (apt-get install pgbouncer)"
        if os.environ.get("OPSKAIZEN_REQUIRE_SERVICES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    db = connection.settings_dict
    port = _free_port()
    # PgBouncer refuses to run as root: it drops to the postgres user, who must read its files.
    folder = Path(tempfile.mkdtemp(prefix="okz-pgbouncer-", dir="/tmp"))
    folder.chmod(0o777)
    (folder / "users.txt").write_text(f'"{db["USER"]}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{db['NAME']} = host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} dbname={db['NAME']}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
        f"auth_type = trust\nauth_file = {folder / 'users.txt'}\nadmin_users = {db['USER']}\n"
        "pool_mode = transaction\ndefault_pool_size = 1\nmax_client_conn = 20\n"
        f"logfile = {folder / 'pgbouncer.log'}\npidfile = {folder / 'pgbouncer.pid'}\n"
    )
    for name in ("users.txt", "pgbouncer.ini"):
        (folder / name).chmod(0o644)
    command = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "postgres"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"pgbouncer exited: {process.stdout.read().decode()}")
            time.sleep(0.1)
    yield {"port": port, "db": db, "folder": folder}
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(folder, ignore_errors=True)


def _admin(port: int, user: str, command: str) -> list[list[str]]:
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", "pgbouncer", "-AtF", "|", "-c", command],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split("|") for line in out.splitlines() if line]


def test_two_clients_share_one_pooled_connection_through_the_products_entry_points(pgbouncer):
    db, port = pgbouncer["db"], pgbouncer["port"]
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{port}/{db['NAME']}",
        "DATABASE_POOLER": "transaction",
        "ALLOWED_HOSTS": "testserver",
        "SECRET_KEY": settings.SECRET_KEY,
        "OPSKAIZEN_VAR_DIR": str(pgbouncer["folder"] / "var"),
        "API_THROTTLE_RATE": "",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKLOAD), slug, "12"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for slug in ("pool-a", "pool-b")
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err.decode()[-3000:]
        results.append(json.loads(out.decode().strip().splitlines()[-1]))

    for result in results:
        assert result["statuses"] == ["200", "201"], result  # created once, then updated; lists and pages 200
        assert result["listed"] == result["chunked"] == result["exported"] == 12
        assert result["server_side_cursors"] is False
    # What the two processes wrote is in the database, each in its own team.
    assert (
        Incident.objects.filter(team__slug="pool-a").count()
        == Incident.objects.filter(team__slug="pool-b").count()
        == 12
    )
    # And it went through PgBouncer: one server connection served many client transactions.
    stats = {row[0]: row for row in _admin(port, db["USER"], "SHOW STATS")}
    header = [row for row in _admin(port, db["USER"], "SHOW POOLS") if row[0] == db["NAME"]]
    assert header, "PgBouncer has no pool for the test database"
    assert int(stats[db["NAME"]][1]) > 100  # total_xact_count
