"""The one table `make bench` ends with: every benchmark's figure of this run beside its target.

    python bench/summary.py --metrics m.json --ingest i.json --pages p.json [--drain d.json]

Reads the --json files the benchmarks of the same run wrote; exits 1 when a page's query count
depends on the data size (pages_bench.py's own failure, deferred so that the table still prints).
A row whose benchmark did not run, or did not write its file, says so instead of a figure.
The drain rows read the drain benchmark's file (`--drain`, bench/drain_bench.py: "one" and "two"
worker processes, each with its rate per second, ratio to the bare insert and peak memory);
without it the one-process drain the ingest benchmark measures is shown.
"""

import argparse
import json
import sys
from pathlib import Path

REVIEW_PAGES = ("page review board (session)", "page review board section p.2")


def load(path: str | None) -> dict | None:
    if not path or not Path(path).exists():
        return None
    return json.loads(Path(path).read_text())


def verdict(ok: bool | None) -> str:
    return "" if ok is None else " ✔" if ok else " ✘"


def rows(metrics: dict | None, ingest: dict | None, pages: dict | None, drain: dict | None) -> list[tuple]:
    """(benchmark, figure, target, met) for each row of the table; met is None when nothing was measured."""
    found = []
    if metrics:
        ratio = metrics["ours_ms"] / metrics["sql_ms"]
        figure = f"{ratio:.2f}× ({metrics['ours_ms']:.0f} vs {metrics['sql_ms']:.0f} ms)"
        found.append(("metrics vs hand-written SQL", figure, "≤ 1.5×", ratio <= 1.5))
    else:
        found.append(("metrics vs hand-written SQL", "not run", "≤ 1.5×", None))
    if ingest:
        base, ratios = ingest["baseline"]["rps"], ingest["ratios"]
        webhook = f"{ratios['webhook']:.0%} ({ingest['webhook']['rps']:.0f} vs {base:.0f} req/s)"
        found.append(("webhook intake vs bare insert", webhook, "≥ 70 %", ratios["webhook"] >= 0.70))
    else:
        found.append(("webhook intake vs bare insert", "not run", "≥ 70 %", None))
    one = drain.get("one") if drain else None
    if one is None and ingest:
        one = {"rate": ingest["drain"]["rate"], "ratio": ingest["drain"]["rate"] / ingest["baseline"]["rps"]}
    if one and one.get("ratio") is None and ingest:  # the drain bench ran without the ingest's baseline
        one = dict(one, ratio=one["rate"] / ingest["baseline"]["rps"])
    if one and one.get("ratio") is not None:
        figure = f"{one['ratio']:.0%} ({one['rate']:.0f}/s)"
        found.append(
            ("drain: queued deliveries applied, one worker", figure, "≥ 70 % of bare insert", one["ratio"] >= 0.7)
        )
    else:
        found.append(("drain: queued deliveries applied, one worker", "see drain bench", "≥ 70 % of bare insert", None))
    two = drain.get("two") if drain else None
    if two:
        ratio = f"{two['ratio']:.0%} " if two.get("ratio") else ""
        found.append(("drain, two worker processes", f"{ratio}({two['rate']:.0f}/s)", "measured and reported", None))
    else:
        found.append(("drain, two worker processes", "see drain bench", "measured and reported", None))
    if drain and drain.get("one"):
        peak = drain["one"]["peak_mb"]
        count = sum(drain["one"]["applied"])
        found.append((f"drain memory, one worker, {count} deliveries", f"{peak:.0f} MB", "< 300 MB", peak < 300))
    else:
        found.append(("drain memory, one worker, 100 000 deliveries", "see drain bench", "< 300 MB", None))
    if ingest:
        api = f"{ingest['ratios']['api']:.0%} ({ingest['api']['rps']:.0f} req/s)"
        found.append(("synchronous API upsert (PUT …/by-ref/…)", api, "≥ 40 %", ingest["ratios"]["api"] >= 0.40))
    else:
        found.append(("synchronous API upsert (PUT …/by-ref/…)", "not run", "≥ 40 %", None))
    if pages:
        large = pages["large"]["rows"]
        at = f" at {pages['large']['incidents'] // 1000}k"
        for name, label, limit in (
            ("page actions board", "actions board", 150),
            ("page dashboard", "dashboard", 150),
            ("page review board (session)", "review board", 100),
        ):
            ms = large[name]["ms"]
            found.append(
                (
                    f"{label}{at} (team of {pages['large']['team_incidents']})",
                    f"{ms:.0f} ms",
                    f"≤ {limit} ms",
                    ms <= limit,
                )
            )
        for name, label in (
            ("page dashboard (tick's first)", "dashboard"),
            ("page review board (session) (tick's first)", "review board"),
        ):
            cold = large.get(name)
            if cold and cold["ms"] is not None:
                found.append((f"{label}{at}, first view of a tick", f"{cold['ms']:.0f} ms", "reported", None))
        api_ms = [row["ms"] for name, row in large.items() if name.startswith("api ")]
        found.append(
            (f"API list endpoints{at}", f"{min(api_ms):.0f}–{max(api_ms):.0f} ms", "≤ 50 ms", max(api_ms) <= 50)
        )
        same = not pages["differ"]
        found.append(
            (
                "query counts, 300 vs 100k incidents",
                "identical" if same else ", ".join(pages["differ"]) + " differ",
                "constant",
                same,
            )
        )
    else:
        for label, target in (
            ("actions board at 100k", "≤ 150 ms"),
            ("dashboard at 100k", "≤ 150 ms"),
            ("review board at 100k", "≤ 100 ms"),
            ("API list endpoints at 100k", "≤ 50 ms"),
            ("query counts, 300 vs 100k incidents", "constant"),
        ):
            found.append((label, "not run", target, None))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("metrics", "ingest", "pages", "drain"):
        parser.add_argument(f"--{name}")
    args = parser.parse_args()
    pages = load(args.pages)
    table = rows(load(args.metrics), load(args.ingest), pages, load(args.drain))
    width = max(len(row[0]) for row in table)
    figure_width = max(len(row[1]) for row in table)
    print(f"{'benchmark':<{width}}  {'this run':<{figure_width}}  target")
    for label, figure, target, met in table:
        print(f"{label:<{width}}  {figure:<{figure_width}}  {target}{verdict(met)}")
    if pages and pages["differ"]:
        sys.exit("query counts depend on the data size (see the pages table above)")


if __name__ == "__main__":
    main()
