"""Generate a large data set on PostgreSQL for the metrics benchmark (COPY, a minute or two).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opskaizen_bench python bench/generate.py

Wipes the teams/incidents/improvement tables of that database first (it refuses
to run on anything but PostgreSQL). Defaults: 10 teams, 100 000 incidents,
200 000 changes, 20 000 actions with their full stage histories, spread over
two years ending on END; the first team, slug "bench-00", is the one measured.
"""

import argparse
import datetime as dt
import json
import random
import time

from _django import setup

END = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)  # a Monday
DAYS = 730
ZONES = ["Europe/Paris", "UTC", "America/New_York", "Asia/Tokyo", "Europe/London"]
CATEGORIES = ["change", "capacity", "dependency", "detection", "process", "human_factors", "unknown"]
TABLES = [
    "improvement_check",
    "improvement_stagetransition",
    "improvement_action_incidents",
    "improvement_action_recurrences",
    "improvement_action_problems",
    "improvement_action_postmortems",
    "improvement_action_changes",
    "improvement_action",
    "incidents_contributingfactor",
    "incidents_postmortem",
    "incidents_timelineevent",
    "incidents_incident",
    "incidents_change",
    "incidents_problem",
    "teams_service",
    "teams_membership",
    "teams_apitoken",
    "teams_integration",
    "teams_team",
]


# A small data set (make bench-data's 300 incidents, 60 actions) still gives each team this many
# actions: ~90 open, so the review agenda of bench-00 runs past the meeting's length into more
# than a page (50 items) of "if time allows", as at 100 000 incidents. The pages benchmark then
# reads the same pages at both sizes (a page 2 of that section, its action items' moves).
MIN_ACTIONS_PER_TEAM = 200


def minutes(rng, mean):
    return dt.timedelta(minutes=rng.expovariate(1 / mean))


def column_defaults(table, columns):
    """The model's defaults for the NOT NULL columns the generator does not write (added by later migrations)."""
    from django.apps import apps

    model = next(m for m in apps.get_models(include_auto_created=True) if m._meta.db_table == table)
    extra = {}
    for field in model._meta.concrete_fields:
        if field.column in columns or field.null:
            continue
        if field.has_default():
            default = field.get_default()
            # COPY takes text: a JSON column's default goes in as its JSON text.
            extra[field.column] = json.dumps(default) if field.get_internal_type() == "JSONField" else default
        elif field.blank and field.get_internal_type() in ("CharField", "TextField", "SlugField", "URLField"):
            extra[field.column] = ""
    return extra


def copy(cursor, table, columns, rows):
    extra = column_defaults(table, columns)
    names, tail = [*columns, *extra], tuple(extra.values())
    with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as out:
        for row in rows:
            out.write_row((*row, *tail))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=200_000)
    parser.add_argument("--actions", type=int, default=20_000)
    parser.add_argument(
        "--min-actions-per-team",
        type=int,
        default=MIN_ACTIONS_PER_TEAM,
        help="at least this many actions per team, whatever --actions says (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    setup()
    from django.db import connection

    rng = random.Random(args.seed)
    start = END - dt.timedelta(days=DAYS)
    now = END
    began = time.perf_counter()

    def when():
        return start + dt.timedelta(seconds=rng.uniform(0, DAYS * 86400))

    connection.ensure_connection()
    raw = connection.connection
    with raw.cursor() as cursor:
        existing = [t for t in TABLES if t in connection.introspection.table_names()]
        cursor.execute(f"TRUNCATE {', '.join(existing)} RESTART IDENTITY CASCADE")

        teams = [
            (i + 1, f"Bench team {i:02d}", f"bench-{i:02d}", ZONES[i % len(ZONES)], start) for i in range(args.teams)
        ]
        copy(cursor, "teams_team", ["id", "name", "slug", "timezone", "created_at"], teams)
        services, problems = {}, {}
        service_rows, problem_rows = [], []
        for team_id, *_ in teams:
            services[team_id] = []
            problems[team_id] = []
            for s in range(10):
                sid = len(service_rows) + 1
                service_rows.append((sid, f"svc {s}", f"svc-{s}", "", 2, start, team_id))
                services[team_id].append(sid)
            for p in range(20):
                pid = len(problem_rows) + 1
                problem_rows.append(
                    (pid, f"problem {p}", "", "open", start, start, rng.choice(services[team_id]), team_id)
                )
                problems[team_id].append(pid)
        copy(
            cursor,
            "teams_service",
            ["id", "name", "slug", "description", "tier", "created_at", "team_id"],
            service_rows,
        )
        copy(
            cursor,
            "incidents_problem",
            ["id", "title", "description", "status", "created_at", "updated_at", "service_id", "team_id"],
            problem_rows,
        )

        team_ids = [t[0] for t in teams]
        changes_of = {team_id: [] for team_id in team_ids}
        change_rows = []
        for cid in range(1, args.changes + 1):
            team_id = team_ids[cid % len(team_ids)]
            committed = when()
            deployed = committed + minutes(rng, 20 * 60) if rng.random() < 0.97 else None
            kind = rng.choices(["standard", "normal", "emergency"], [40, 55, 5])[0]
            change_rows.append(
                (
                    cid,
                    f"deploy {cid}",
                    kind,
                    committed,
                    deployed,
                    rng.random() < 0.08,
                    "bench",
                    "",
                    "",
                    committed,
                    committed,
                    rng.choice(services[team_id]),
                    team_id,
                )
            )
            changes_of[team_id].append(cid)
        copy(
            cursor,
            "incidents_change",
            [
                "id",
                "title",
                "kind",
                "committed_at",
                "deployed_at",
                "failed",
                "source",
                "external_id",
                "url",
                "created_at",
                "updated_at",
                "service_id",
                "team_id",
            ],
            change_rows,
        )
        del change_rows

        incident_rows, postmortem_rows, factor_rows = [], [], []
        for iid in range(1, args.incidents + 1):
            team_id = team_ids[iid % len(team_ids)]
            started = when()
            detected = started + minutes(rng, 10)
            acknowledged = detected + minutes(rng, 5) if rng.random() < 0.9 else None
            mitigated = detected + minutes(rng, 90) if rng.random() < 0.95 else None
            resolved = mitigated + minutes(rng, 360) if mitigated and rng.random() < 0.85 else None
            status = "resolved" if resolved else "mitigated" if mitigated else "open"
            severity = rng.choices(["SEV1", "SEV2", "SEV3", "SEV4"], [5, 15, 50, 30])[0]
            incident_rows.append(
                (
                    iid,
                    f"incident {iid}",
                    "",
                    severity,
                    status,
                    started,
                    detected,
                    acknowledged,
                    mitigated,
                    resolved,
                    "bench",
                    "",
                    "",
                    started,
                    started,
                    rng.choice(changes_of[team_id]) if rng.random() < 0.15 else None,
                    None,
                    rng.choice(services[team_id]),
                    team_id,
                    rng.choice(problems[team_id]) if rng.random() < 0.3 else None,
                )
            )
            if severity in ("SEV1", "SEV2") or rng.random() < 0.1:
                pmid = len(postmortem_rows) + 1
                published = started + minutes(rng, 5 * 24 * 60) if rng.random() < 0.7 else None
                postmortem_rows.append(
                    (
                        pmid,
                        "published" if published else "draft",
                        "summary",
                        "impact",
                        "",
                        "",
                        "",
                        published,
                        started,
                        started,
                        None,
                        iid,
                        team_id,
                    )
                )
                for _f in range(rng.randint(1, 2)):
                    factor_rows.append((len(factor_rows) + 1, rng.choice(CATEGORIES), "factor", team_id, pmid))
        copy(
            cursor,
            "incidents_incident",
            [
                "id",
                "title",
                "summary",
                "severity",
                "status",
                "started_at",
                "detected_at",
                "acknowledged_at",
                "mitigated_at",
                "resolved_at",
                "source",
                "external_id",
                "url",
                "created_at",
                "updated_at",
                "caused_by_change_id",
                "created_by_id",
                "service_id",
                "team_id",
                "problem_id",
            ],
            incident_rows,
        )
        copy(
            cursor,
            "incidents_postmortem",
            [
                "id",
                "status",
                "summary",
                "impact",
                "what_went_well",
                "what_went_badly",
                "where_we_got_lucky",
                "published_at",
                "created_at",
                "updated_at",
                "author_id",
                "incident_id",
                "team_id",
            ],
            postmortem_rows,
        )
        copy(
            cursor,
            "incidents_contributingfactor",
            ["id", "category", "description", "team_id", "postmortem_id"],
            factor_rows,
        )
        n_incidents, n_postmortems = len(incident_rows), len(postmortem_rows)
        del incident_rows, postmortem_rows, factor_rows

        action_rows, transition_rows, check_rows = [], [], []
        path = ["plan", "do", "check", "act"]
        n_actions = max(args.actions, args.min_actions_per_team * len(team_ids))
        for aid in range(1, n_actions + 1):
            team_id = team_ids[aid % len(team_ids)]
            opened = when()
            final = rng.choices(["plan", "do", "check", "act", "done", "abandoned"], [15, 15, 10, 5, 45, 10])[0]
            steps = path[: path.index(final) + 1] if final in path else [*path, final]
            if final == "abandoned":
                steps = [*path[: rng.randint(1, 3)], "abandoned"]
            at, previous = opened, ""
            for stage in steps:
                if at > now:
                    break
                transition_rows.append((len(transition_rows) + 1, previous, stage, at, "", "bench", aid, None, team_id))
                previous, entered = stage, at
                at = at + minutes(rng, {"plan": 7, "do": 20, "check": 28, "act": 3}.get(stage, 1) * 24 * 60)
            kind = rng.choices(["service", "problem", "factor_category"], [60, 25, 15])[0]
            action_rows.append(
                (
                    aid,
                    f"action {aid}",
                    "statement",
                    "hypothesis",
                    "corrective",
                    "incident",
                    previous,
                    entered,
                    (opened + dt.timedelta(days=rng.randint(7, 60))).date(),
                    kind,
                    rng.choice(CATEGORIES) if kind == "factor_category" else "",
                    "",
                    "decrease",
                    28,
                    "",
                    "bench",
                    "",
                    "standardise" if previous == "done" else "abandon" if previous == "abandoned" else "",
                    "",
                    1,
                    None,
                    opened,
                    opened,
                    None,
                    None,
                    None,
                    rng.choice(problems[team_id]) if kind == "problem" else None,
                    rng.choice(services[team_id]) if kind == "service" else None,
                    team_id,
                )
            )
            if previous in ("act", "done"):
                verdict = (
                    rng.choice(["effective", "not_effective", "inconclusive"]) if previous == "act" else "effective"
                )
                check_rows.append(
                    (
                        len(check_rows) + 1,
                        "incidents",
                        None,
                        None,
                        None,
                        None,
                        6.0,
                        2.0,
                        6,
                        2,
                        "bench",
                        0.14,
                        verdict,
                        verdict,
                        False,
                        "",
                        entered,
                        aid,
                        None,
                        team_id,
                    )
                )
        copy(
            cursor,
            "improvement_action",
            [
                "id",
                "title",
                "problem_statement",
                "hypothesis",
                "kind",
                "origin",
                "stage",
                "stage_entered_at",
                "due_date",
                "target_kind",
                "target_factor_category",
                "target_metric",
                "target_direction",
                "check_window_days",
                "external_ticket",
                "source",
                "external_id",
                "decision",
                "abandon_reason",
                "cycle",
                "recurred_at",
                "created_at",
                "updated_at",
                "created_by_id",
                "owner_id",
                "previous_cycle_id",
                "target_problem_id",
                "target_service_id",
                "team_id",
            ],
            action_rows,
        )
        copy(
            cursor,
            "improvement_stagetransition",
            ["id", "from_stage", "to_stage", "at", "note", "via", "action_id", "by_id", "team_id"],
            transition_rows,
        )
        copy(
            cursor,
            "improvement_check",
            [
                "id",
                "metric",
                "baseline_start",
                "baseline_end",
                "observed_start",
                "observed_end",
                "baseline_value",
                "observed_value",
                "baseline_count",
                "observed_count",
                "method",
                "p_value",
                "computed_verdict",
                "verdict",
                "overridden",
                "note",
                "measured_at",
                "action_id",
                "decided_by_id",
                "team_id",
            ],
            check_rows,
        )
        for table in (
            "teams_team",
            "teams_service",
            "incidents_problem",
            "incidents_change",
            "incidents_incident",
            "incidents_postmortem",
            "incidents_contributingfactor",
            "improvement_action",
            "improvement_stagetransition",
            "improvement_check",
        ):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    raw.commit()
    with raw.cursor() as cursor:
        cursor.execute("ANALYZE")
    raw.commit()
    print(
        f"{len(teams)} teams, {n_incidents} incidents, {args.changes} changes, {n_postmortems} postmortems, "
        f"{len(action_rows)} actions, {len(transition_rows)} stage transitions, {len(check_rows)} checks "
        f"in {time.perf_counter() - began:.1f} s"
    )


if __name__ == "__main__":
    main()
