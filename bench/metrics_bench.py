"""Time one year of weekly metrics of one team: reporting.metrics vs hand-written SQL, in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opskaizen_bench python bench/metrics_bench.py

Run bench/generate.py first. Both sides compute the same numbers for the 52 weeks
before END in the team's time zone (incidents by severity, detect/acknowledge/
mitigate/resolve medians and p90 with counts, repeat incidents, deployments,
failed deployments, standard/emergency changes, lead time, time to postmortem,
improvement flow and work in progress); the script checks that every number
agrees, then prints the median time of each side over --rounds alternating runs
and their ratio (target ≤ 1.5).
"""

import argparse
import datetime as dt
import json
import math
import statistics
import sys
import time

from _django import setup

INCIDENTS_SQL = """
SELECT date_trunc('week', i.started_at AT TIME ZONE %(tz)s) AS week,
    count(*) AS incidents,
    count(*) FILTER (WHERE i.severity = 'SEV1') AS incidents_sev1,
    count(*) FILTER (WHERE i.severity = 'SEV2') AS incidents_sev2,
    count(*) FILTER (WHERE i.severity = 'SEV3') AS incidents_sev3,
    count(*) FILTER (WHERE i.severity = 'SEV4') AS incidents_sev4,
    count(*) FILTER (WHERE i.resolved_at IS NULL) AS unresolved,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM i.detected_at - i.started_at)::float8)
        AS time_to_detect_p50,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM i.detected_at - i.started_at)::float8)
        AS time_to_detect_p90,
    count(i.detected_at) AS time_to_detect_n,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM i.acknowledged_at - i.detected_at)::float8)
        AS time_to_acknowledge_p50,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM i.acknowledged_at - i.detected_at)::float8)
        AS time_to_acknowledge_p90,
    count(i.acknowledged_at) AS time_to_acknowledge_n,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM i.mitigated_at - i.started_at)::float8)
        AS time_to_mitigate_p50,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM i.mitigated_at - i.started_at)::float8)
        AS time_to_mitigate_p90,
    count(i.mitigated_at) AS time_to_mitigate_n,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM i.resolved_at - i.started_at)::float8)
        AS time_to_resolve_p50,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM i.resolved_at - i.started_at)::float8)
        AS time_to_resolve_p90,
    count(i.resolved_at) AS time_to_resolve_n,
    count(*) FILTER (WHERE
        EXISTS (SELECT 1 FROM incidents_incident e
                WHERE e.problem_id = i.problem_id
                  AND e.started_at < i.started_at AND e.started_at >= i.started_at - interval '30 days')
    ) AS repeat_problem
FROM incidents_incident i
WHERE i.team_id = %(team)s AND i.started_at >= %(start)s AND i.started_at < %(end)s
GROUP BY 1 ORDER BY 1
"""

CHANGES_SQL = """
SELECT date_trunc('week', c.deployed_at AT TIME ZONE %(tz)s) AS week,
    count(*) AS deployments,
    count(*) FILTER (WHERE c.failed OR EXISTS (SELECT 1 FROM incidents_incident i WHERE i.caused_by_change_id = c.id))
        AS failed_deployments,
    count(*) FILTER (WHERE c.kind = 'standard') AS standard_changes,
    count(*) FILTER (WHERE c.kind = 'emergency') AS emergency_changes,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM c.deployed_at - c.committed_at)::float8)
        AS lead_time_p50,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM c.deployed_at - c.committed_at)::float8)
        AS lead_time_p90,
    count(c.committed_at) AS lead_time_n
FROM incidents_change c
WHERE c.team_id = %(team)s AND c.deployed_at >= %(start)s AND c.deployed_at < %(end)s
GROUP BY 1 ORDER BY 1
"""

POSTMORTEMS_SQL = """
SELECT date_trunc('week', p.published_at AT TIME ZONE %(tz)s) AS week,
    count(*) AS postmortems_published,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM p.published_at - i.started_at)::float8)
        AS time_to_postmortem_p50,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM p.published_at - i.started_at)::float8)
        AS time_to_postmortem_p90,
    count(*) AS time_to_postmortem_n
FROM incidents_postmortem p JOIN incidents_incident i ON i.id = p.incident_id
WHERE p.team_id = %(team)s AND p.status = 'published' AND p.published_at >= %(start)s AND p.published_at < %(end)s
GROUP BY 1 ORDER BY 1
"""

TRANSITIONS_SQL = """
SELECT date_trunc('week', t.at AT TIME ZONE %(tz)s) AS week,
    count(*) FILTER (WHERE t.from_stage = '') AS actions_opened,
    count(*) FILTER (WHERE t.to_stage IN ('done', 'abandoned')) AS actions_finished,
    count(*) FILTER (WHERE t.to_stage = 'done') AS actions_done,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM t.at - (
        SELECT min(f.at) FROM improvement_stagetransition f WHERE f.action_id = t.action_id))::float8)
        FILTER (WHERE t.to_stage = 'act') AS cycle_time_p50,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM t.at - (
        SELECT min(f.at) FROM improvement_stagetransition f WHERE f.action_id = t.action_id))::float8)
        FILTER (WHERE t.to_stage = 'act') AS cycle_time_p90,
    count(*) FILTER (WHERE t.to_stage = 'act') AS cycle_time_n
FROM improvement_stagetransition t
WHERE t.team_id = %(team)s AND t.at >= %(start)s AND t.at < %(end)s
GROUP BY 1 ORDER BY 1
"""

CARRIED_SQL = """
SELECT count(*) FILTER (WHERE from_stage = '') - count(*) FILTER (WHERE to_stage IN ('done', 'abandoned'))
FROM improvement_stagetransition WHERE team_id = %(team)s AND at < %(start)s
"""


def hand_written(cursor, params) -> dict:
    """The same weekly numbers, from SQL written by hand; rows keyed by the local Monday."""
    found = {}
    for source, sql in (
        ("incidents", INCIDENTS_SQL),
        ("changes", CHANGES_SQL),
        ("postmortems", POSTMORTEMS_SQL),
        ("transitions", TRANSITIONS_SQL),
    ):
        cursor.execute(sql, params)
        columns = [column.name for column in cursor.description]
        found[source] = {row[0].date(): dict(zip(columns, row, strict=True)) for row in cursor.fetchall()}
    cursor.execute(CARRIED_SQL, params)
    found["carried"] = cursor.fetchone()[0]
    return found


def compare(orm: dict, sql: dict, weeks) -> int:
    """Number of values compared; exits with the first disagreement."""
    compared = 0
    for source in ("incidents", "changes", "postmortems", "transitions"):
        for week in weeks:
            hand = sql[source].get(week)
            ours = orm[source].get(week, {})
            if hand is None:
                if any(v for k, v in ours.items() if k not in ("week", "wip")):
                    sys.exit(f"MISMATCH {source} {week}: metrics has {ours}, the SQL has no row")
                continue
            for key, value in hand.items():
                if key == "week":
                    continue
                mine = ours[key]
                same = mine == value or (
                    isinstance(value, float) and mine is not None and math.isclose(mine, value, rel_tol=1e-12)
                )
                if not same:
                    sys.exit(f"MISMATCH {source} {week} {key}: metrics={mine!r} sql={value!r}")
                compared += 1
    wip = sql["carried"]
    for week in weeks:
        row = sql["transitions"].get(week, {})
        wip += (row.get("actions_opened") or 0) - (row.get("actions_finished") or 0)
        if orm["transitions"][week]["wip"] != wip:
            sys.exit(f"MISMATCH wip {week}: metrics={orm['transitions'][week]['wip']} sql={wip}")
        compared += 1
    return compared


def timed(function) -> float:
    began = time.perf_counter()
    function()
    return time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--team", default="bench-00")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", help="also write the figures to this file (bench/summary.py reads it)")
    args = parser.parse_args()
    setup()
    from django.db import connection

    from reporting import metrics
    from reporting.metrics.series import weekly_rows
    from teams.models import Team

    team = Team.objects.get(slug=args.team)
    end = dt.date(2026, 11, 22)  # Sunday before the generator's END
    scope = metrics.build_scope(teams=team, start=end - dt.timedelta(weeks=52) + dt.timedelta(days=1), end=end)
    params = {"team": team.pk, "start": scope.start, "end": scope.end, "tz": scope.tz.key}
    cursor = connection.cursor()
    cursor.execute("SHOW jit")
    jit = cursor.fetchone()[0]

    compared = compare(weekly_rows(scope), hand_written(cursor, params), scope.weeks)
    counts = hand_written(cursor, params)
    print(
        f"team {team.slug} ({scope.tz.key}), {len(scope.weeks)} weeks {scope.first_day} → {scope.last_day}: "
        f"{sum(r['incidents'] for r in counts['incidents'].values())} incidents, "
        f"{sum(r['deployments'] for r in counts['changes'].values())} deployments, "
        f"{sum(r['actions_opened'] for r in counts['transitions'].values())} actions opened"
    )
    print(f"PostgreSQL jit = {jit} (config/settings.py turns it off for this app)")
    print(f"same numbers: {compared} values compared, all equal")

    def ours():
        metrics.weekly_series(scope)

    def theirs():
        hand_written(cursor, params)

    for _ in range(2):  # warm caches on both sides
        ours()
        theirs()
    ours_times, sql_times = [], []
    for _ in range(args.rounds):
        ours_times.append(timed(ours))
        sql_times.append(timed(theirs))
    ours_median, sql_median = statistics.median(ours_times), statistics.median(sql_times)
    print(f"metrics.weekly_series (ORM, + XmR limits and signals): median {ours_median * 1000:8.1f} ms")
    print(f"hand-written SQL (same numbers):                       median {sql_median * 1000:8.1f} ms")
    print(f"ratio: {ours_median / sql_median:.2f}x  (target <= 1.5x, {args.rounds} alternating rounds)")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"ours_ms": ours_median * 1000, "sql_ms": sql_median * 1000}, out, indent=2)


if __name__ == "__main__":
    main()
