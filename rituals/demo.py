"""The demo's six months of operations, written through the product's own services.

Everything goes through the same services as the product (so the demo obeys the PDCA rules),
except the bulk of changes, which are validated one by one and then inserted in bulk for speed.
`manage.py seed_demo` runs it.
"""

import datetime as dt
import random

from django.contrib.auth import get_user_model

from improvement import checks, recurrence
from improvement import services as improvement
from improvement.models import Action, Recurrence, Stage, Verdict
from incidents import services as incidents
from incidents.models import Change, FactorCategory, Incident, Postmortem, Severity
from rituals import agenda
from rituals.demo_data import ACTION_IDEAS, CHANGE_TITLES, FACTORS, PASSWORD, SYMPTOMS, TEAMS, USERS
from rituals.models import ReviewSession, Ritual
from teams import services as teams
from teams.models import Membership, Team


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


class Seeder:
    def __init__(self, rng: random.Random, now: dt.datetime, weeks: int):
        self.rng = rng
        self.now = now
        self.start = now - dt.timedelta(weeks=weeks)

    def run(self):
        User = get_user_model()
        admin, _ = User.objects.get_or_create(username="admin", defaults={"email": "admin@example.com"})
        admin.is_staff = admin.is_superuser = True
        admin.set_password(PASSWORD)
        admin.save()
        users = {}
        for username, full_name, _roles in USERS:
            first, last = full_name.split(" ", 1)
            user, _ = User.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"}
            )
            user.set_password(PASSWORD)
            user.save()
            users[username] = user
        for spec in TEAMS:
            team = teams.create_team(name=spec["name"], slug=spec["slug"], timezone=spec["timezone"])
            for username, _full, roles in USERS:
                if spec["slug"] in roles:
                    teams.add_member(team=team, user=users[username], role=roles[spec["slug"]])
            self.seed_team(team, spec)
        # What beat's task does every ten minutes: measure every Check whose window and grace ended.
        checks.compute_due_checks(now=self.now)
        self.override_one_early_check()
        self.showcase_evidence(Team.objects.get(slug=TEAMS[0]["slug"]))
        self.seed_monthly_review(Team.objects.get(slug=TEAMS[0]["slug"]))

    def seed_monthly_review(self, team: Team):
        """A monthly operations review, opened on the last day of history with the month's figures frozen."""
        ritual = Ritual.objects.create(
            team=team,
            name="Monthly operations review",
            kind=Ritual.Kind.MONTHLY_OPS_REVIEW,
            rrule="FREQ=MONTHLY;BYDAY=1MO",
            time_of_day=dt.time(14, 0),
            timezone=team.timezone,
            duration_minutes=90,
        )
        ritual.attendees.set([m.user for m in team.memberships.select_related("user")])
        session = ReviewSession.objects.create(team=team, ritual=ritual, occurrence=self.now)
        session.attendees.set(ritual.attendees.all())
        # What the tick does when the session opens: the same agenda, frozen once.
        session.agenda = agenda.build_agenda(session=session, now=self.now)
        session.save(update_fields=["agenda"])

    def showcase_evidence(self, team: Team):
        """Checks built to show what the statistics do, before the random history starts (counts controlled)."""
        lead = team.memberships.filter(role=Membership.Role.LEAD).first().user
        day = dt.timedelta(days=1)
        start = self.start - 300 * day

        def incidents_on(service, do_at, before, after, problem=None):
            for n in range(before):
                self.incident_at(team, lead, service, do_at - (27 - 27 * n / max(before, 1)) * day - day, problem)
            for n in range(after):
                self.incident_at(team, lead, service, do_at + day + 26 * n / max(after, 1) * day, problem)

        def cycle(title, service, do_at, *, stay_in_check=False):
            action = improvement.create_action(
                team=team, by=lead, at=do_at - 3 * day, title=title, owner=lead,
                problem_statement="Incidents on this service keep paging the on-call.",
                hypothesis="The change removes their cause.", due_date=(do_at + 10 * day).date(),
                target_kind=Action.TargetKind.SERVICE, target_service=service,
                target_direction=Action.Direction.DECREASE, check_window_days=28,
            )  # fmt: skip
            improvement.move_action(action=action, to_stage=Stage.DO, by=lead, at=do_at)
            improvement.move_action(action=action, to_stage=Stage.CHECK, by=lead, at=do_at + day, note="Rolled out.")
            checks.compute_check(action, now=do_at + 31 * day)
            if not stay_in_check:
                improvement.move_action(action=action, to_stage=Stage.ACT, by=lead, at=do_at + 31 * day)
            return action

        edge, dns, search = (
            teams.create_service(team=team, name=name, tier=2) for name in ("Edge cache", "Edge DNS", "Search")
        )
        # 1. A team-wide drop: the target fell 12 → 4, but so did the rest of the team (30 → 10).
        do_at = start
        incidents_on(edge, do_at, 12, 4)
        incidents_on(dns, do_at, 30, 10)
        cycle("Cache warm-up before deploys (team-wide drop: cancelled by the comparison)", edge, do_at)
        # 2. An effect beyond the rest of the team: 12 → 2 while the rest stayed 30 → 28.
        do_at = start + 80 * day
        incidents_on(edge, do_at, 12, 2)
        incidents_on(dns, do_at, 30, 28)
        cycle("Edge cache eviction fix (survives the comparison)", edge, do_at)
        # 3. Too few incidents to tell: inconclusive, with the window it would need.
        do_at = start + 160 * day
        incidents_on(search, do_at, 3, 2)
        cycle("Search index rebuild throttle (inconclusive: see what the window can show)", search, do_at,
              stay_in_check=True)  # fmt: skip
        # 4. A recurrence with its explanation, and 5. a false one undone with a reason.
        problem = incidents.create_problem(team=team, title="Stale edge certificates", service=edge)
        for title, false in (("Automate certificate renewal", False), ("Certificate expiry alerting", True)):
            do_at = start + (200 if not false else 230) * day
            action = cycle(title, edge, do_at)
            Action.objects.filter(pk=action.pk).update(target_kind=Action.TargetKind.PROBLEM, target_problem=problem,
                                                       target_service=None)  # fmt: skip
            action.refresh_from_db()
            improvement.move_action(action=action, to_stage=Stage.DONE, by=lead, at=do_at + 32 * day,
                                    decision=Action.Decision.STANDARDISE if action.check_result.verdict == "effective"
                                    else Action.Decision.ADJUST)  # fmt: skip
            if action.decision != Action.Decision.STANDARDISE:
                Action.objects.filter(pk=action.pk).update(decision=Action.Decision.STANDARDISE)
                Action.objects.filter(previous_cycle=action).delete()
            again = self.incident_at(team, lead, edge, do_at + 45 * day, problem)
            recurrence.record_recurrence(incident=again, at=do_at + 45 * day)
            if false:
                link = Recurrence.objects.get(action=action, incident=again)
                recurrence.dismiss(link=link, by=lead, reason="A planned certificate rotation drill, not the cause.")

    def incident_at(self, team, by, service, started, problem=None):
        return incidents.create_incident(
            team=team, by=by, title=f"{service.name} errors", severity="SEV3", service=service, problem=problem,
            started_at=started, detected_at=started, mitigated_at=started + dt.timedelta(minutes=40),
            resolved_at=started + dt.timedelta(hours=2), status="resolved",
        )  # fmt: skip

    def override_one_early_check(self):
        """One lead leaves a Check before it was measured, with the reason: an override, shown as such."""
        action = Action.objects.filter(stage=Stage.CHECK, team__slug=TEAMS[0]["slug"]).order_by("pk").first()
        if action is None:
            return
        lead = action.team.memberships.filter(role=Membership.Role.LEAD).first().user
        improvement.move_action(
            action=action,
            to_stage=Stage.ACT,
            by=lead,
            at=self.now,
            verdict=Verdict.EFFECTIVE,
            note="The vendor shipped the fix this week; waiting for the window to end would only delay the rollout.",
        )

    # --- one team -------------------------------------------------------------
    def seed_team(self, team: Team, spec: dict):
        rng = self.rng
        services = [
            teams.create_service(team=team, name=name, tier=rng.choice([1, 1, 2, 3])) for name in spec["services"]
        ]
        problems = [
            incidents.create_problem(team=team, title=title, service=rng.choice(services)) for title in spec["problems"]
        ]
        writers = [m.user for m in team.memberships.select_related("user") if m.role != Membership.Role.VIEWER]
        changes = self.seed_changes(team, services)
        failed = [c for c in changes if c.failed]
        postmortems = []
        day = self.start
        n = 0
        while day < self.now - dt.timedelta(hours=6):
            day += dt.timedelta(hours=rng.expovariate(1 / 60))  # about 2.8 incidents a week
            if day >= self.now - dt.timedelta(hours=6):
                break
            n += 1
            incident = self.seed_incident(team, services, problems, failed, writers, day, n)
            if incident.severity in (Severity.SEV1, Severity.SEV2):
                postmortems.append(self.seed_postmortem(incident, writers))
        self.seed_actions(team, services, problems, postmortems, changes, writers)
        Ritual.objects.create(
            team=team,
            name="Weekly review board",
            kind=Ritual.Kind.WEEKLY_REVIEW,
            weekday=0,
            time_of_day=dt.time(10, 0),
            timezone=team.timezone,
        ).attendees.set(writers)

    def seed_changes(self, team, services):
        rng = self.rng
        rows = []
        t = self.start
        i = 0
        while True:
            t += dt.timedelta(hours=rng.expovariate(1 / 14))  # about 12 deployments a week
            if t >= self.now:
                break
            i += 1
            service = rng.choice(services)
            kind = rng.choices(list(Change.Kind), weights=[60, 35, 5])[0]
            lead = dt.timedelta(hours=rng.lognormvariate(2.5 if kind != Change.Kind.EMERGENCY else 0, 1.0))
            change = Change(
                team=team,
                service=service,
                kind=kind,
                title=rng.choice(CHANGE_TITLES).format(s=service.name, v=f"v{rng.randint(1, 9)}.{rng.randint(0, 30)}"),
                committed_at=t - lead,
                deployed_at=t,
                failed=rng.random() < (0.2 if kind == Change.Kind.EMERGENCY else 0.07),
                source="github",
                external_id=f"{team.slug}/deploy/{i}",
            )
            change.full_clean(exclude=["team", "service"])
            rows.append(change)
        return Change.objects.bulk_create(rows)

    def seed_incident(self, team, services, problems, failed_changes, writers, start, n):
        rng = self.rng
        severity = rng.choices(list(Severity), weights=[5, 15, 45, 35])[0]
        problem = rng.choice(problems) if rng.random() < 0.3 else None
        service = problem.service if problem and problem.service else rng.choice(services)
        cause = None
        candidates = [
            c
            for c in failed_changes
            if c.service_id == service.pk and dt.timedelta(0) < start - c.deployed_at < dt.timedelta(hours=12)
        ]
        if candidates:
            cause = candidates[-1]
        detected = start + dt.timedelta(minutes=rng.lognormvariate(2, 0.8))
        acknowledged = detected + dt.timedelta(minutes=rng.lognormvariate(1.5, 0.7))
        mitigated = acknowledged + dt.timedelta(minutes=rng.lognormvariate(3.5, 0.9))
        resolved = mitigated + dt.timedelta(hours=rng.lognormvariate(1.5, 1.0))
        fields = {
            "service": service,
            "problem": problem,
            "caused_by_change": cause,
            "severity": severity,
            "title": _sentence(rng.choice(SYMPTOMS).format(s=service.name)),
            "summary": "Customers saw errors; the on-call engineer mitigated and the team followed up.",
            "started_at": start,
            "detected_at": detected,
            "acknowledged_at": acknowledged,
            "source": rng.choice(["pagerduty", "pagerduty", "manual", "jira"]),
        }
        fields["external_id"] = "" if fields["source"] == "manual" else f"{team.slug.upper()[:3]}-{n}"
        if resolved < self.now:
            fields.update(mitigated_at=mitigated, resolved_at=resolved, status=Incident.Status.RESOLVED)
        elif mitigated < self.now:
            fields.update(mitigated_at=mitigated, status=Incident.Status.MITIGATED)
        else:
            fields.update(acknowledged_at=None if acknowledged > self.now else acknowledged)
        incident = incidents.create_incident(team=team, by=rng.choice(writers), **fields)
        incidents.add_timeline_event(incident=incident, occurred_at=detected, kind="detection", text="Alert fired.")
        if incident.acknowledged_at:
            incidents.add_timeline_event(
                incident=incident, occurred_at=acknowledged, kind="escalation", text="On-call acknowledged the page."
            )
        if incident.mitigated_at:
            incidents.add_timeline_event(
                incident=incident,
                occurred_at=mitigated,
                kind="action",
                text="Rolled back / failed over; errors back to baseline.",
            )
        return incident

    def seed_postmortem(self, incident, writers):
        rng = self.rng
        postmortem = incidents.start_postmortem(incident=incident, by=rng.choice(writers))
        incidents.update_postmortem(
            postmortem=postmortem,
            summary=f"{incident.title}: what happened and how we recovered.",
            impact=f"About {rng.randint(2, 90)} minutes of degraded service for {rng.randint(1, 40)}% of requests.",
            what_went_well="Paging worked; the rollback was quick.",
            what_went_badly="Detection relied on customer reports for the first minutes.",
            where_we_got_lucky="It happened outside peak hours.",
        )
        for category in rng.sample(list(FactorCategory), k=rng.randint(1, 3)):
            incidents.add_contributing_factor(postmortem=postmortem, category=category, description=FACTORS[category])
        age = self.now - incident.started_at
        if age > dt.timedelta(days=10) and incident.resolved_at:
            # Reviewed by a teammate the author names, as the publishing rule asks.
            reviewer = next((w for w in writers if w.pk != postmortem.author_id), postmortem.author)
            if reviewer.pk != postmortem.author_id:
                incidents.update_postmortem(postmortem=postmortem, reviewer=reviewer)
            incidents.move_postmortem(postmortem=postmortem, to_status=Postmortem.Status.IN_REVIEW)
            published = min(incident.resolved_at + dt.timedelta(days=rng.uniform(1, 9)), self.now)
            incidents.move_postmortem(
                postmortem=postmortem, to_status=Postmortem.Status.PUBLISHED, at=published, by=reviewer
            )
            incidents.update_incident(incident=incident, status=Incident.Status.CLOSED)
        elif age > dt.timedelta(days=4):
            incidents.move_postmortem(postmortem=postmortem, to_status=Postmortem.Status.IN_REVIEW)
        postmortem.refresh_from_db()
        return postmortem

    def seed_actions(self, team, services, problems, postmortems, changes, writers):
        """Actions at every stage, moved through the stage service with dates in the past."""
        rng = self.rng
        for k, postmortem in enumerate(pm for pm in postmortems if pm.status != Postmortem.Status.DRAFT):
            incident = postmortem.incident
            title, kind, category = ACTION_IDEAS[k % len(ACTION_IDEAS)]
            created = incident.resolved_at + dt.timedelta(days=rng.uniform(0.5, 3))
            if created > self.now - dt.timedelta(days=1):
                continue
            target = rng.choice(["service", "factor_category", "problem" if incident.problem_id else "service"])
            owner = rng.choice(writers)
            action = improvement.create_action(
                team=team,
                by=owner,
                at=created,
                title=title.format(s=incident.service.name),
                kind=kind,
                origin=Action.Origin.POSTMORTEM,
                problem_statement=f"{incident.title} ({incident.severity}).",
                hypothesis="If we do this, incidents of this kind become rarer: the contributing factor goes away.",
                owner=owner,
                due_date=(created + dt.timedelta(days=rng.randint(7, 30))).date(),
                target_kind=target,
                target_direction=Action.Direction.DECREASE,
                target_service=incident.service if target == "service" else None,
                target_problem=incident.problem if target == "problem" else None,
                target_factor_category=category if target == "factor_category" else "",
                check_window_days=rng.choice([14, 28, 28, 42]),
                external_ticket=f"{team.slug.upper()[:3]}-{1000 + k}" if rng.random() < 0.7 else "",
                links={"incidents": [incident], "postmortems": [postmortem]},
            )
            self.advance(action, created, owner, changes)
        self.seed_backlog(team, writers)

    def seed_backlog(self, team, writers):
        """Recent actions still in Plan or Do: some plans incomplete, some overdue."""
        rng = self.rng
        recent = Incident.objects.filter(team=team, severity=Severity.SEV3, resolved_at__isnull=False).order_by(
            "-started_at"
        )[:6]
        for k, incident in enumerate(recent):
            created = min(
                incident.resolved_at + dt.timedelta(hours=rng.uniform(2, 30)), self.now - dt.timedelta(hours=1)
            )
            owner = rng.choice(writers)
            complete = k % 3 != 0
            action = improvement.create_action(
                team=team,
                by=owner,
                at=created,
                origin=rng.choice([Action.Origin.INCIDENT, Action.Origin.REVIEW_BOARD]),
                title=f"Follow up: {incident.title}",
                kind=rng.choice(list(Action.Kind)),
                problem_statement=f"{incident.title} needed manual recovery." if complete else "",
                hypothesis="Automating the recovery step removes most of the time to mitigate." if complete else "",
                owner=owner if complete else None,
                due_date=(created + dt.timedelta(days=rng.randint(-3, 10) + 7)).date(),
                target_kind=Action.TargetKind.SERVICE,
                target_service=incident.service,
                target_direction=Action.Direction.DECREASE if complete else "",
                links={"incidents": [incident]},
            )
            if complete and k % 2:
                improvement.move_action(
                    action=action,
                    to_stage=Stage.DO,
                    by=owner,
                    via="system",
                    at=min(created + dt.timedelta(days=1), self.now),
                )

    def advance(self, action, at, by, changes):
        """Walk an action forward as far as its age allows, as a team would have."""
        rng = self.rng

        def step(days):
            nonlocal at
            nxt = at + dt.timedelta(days=days)
            if nxt >= self.now:
                return False
            at = nxt
            return True

        if not step(rng.uniform(1, 6)):
            return
        improvement.move_action(action=action, to_stage=Stage.DO, by=by, at=at, via="system")
        if rng.random() < 0.05:
            improvement.move_action(
                action=action, to_stage=Stage.ABANDONED, by=by, at=at, reason="Superseded by the platform migration."
            )
            return
        if not step(rng.uniform(3, 15)):
            return
        nearby = [c for c in changes if c.deployed_at and abs(c.deployed_at - at) < dt.timedelta(days=2)]
        if nearby:
            action.changes.add(nearby[0])
        improvement.move_action(
            action=action,
            to_stage=Stage.CHECK,
            by=by,
            at=at,
            note="Rolled out everywhere." if not nearby and not action.external_ticket else "",
        )
        # The Check is measured by the product, as beat does, once the window and its grace period end.
        if not step(action.check_window_days + 3):
            return
        check = checks.compute_check(action, now=at)
        verdict = check.computed_verdict
        if verdict == Verdict.INCONCLUSIVE and action.check_window_days + 28 <= 365 and rng.random() < 0.4:
            improvement.extend_check_window(
                action=action, days=28, by=by, reason="Inconclusive: observe four more weeks."
            )
            if not step(28):
                return
            verdict = checks.compute_check(action, now=at).computed_verdict
        improvement.move_action(action=action, to_stage=Stage.ACT, by=by, at=at)
        if not step(rng.uniform(1, 7)):
            return
        if verdict == Verdict.EFFECTIVE:
            improvement.move_action(action=action, to_stage=Stage.DONE, by=by, at=at, decision="standardise")
        elif rng.random() < 0.7:
            improvement.move_action(
                action=action,
                to_stage=Stage.DONE,
                by=by,
                at=at,
                decision="adjust",
                note="Second cycle with a narrower scope.",
            )
            nxt = Action.objects.get(previous_cycle=action)
            nxt.due_date = (at + dt.timedelta(days=21)).date()
            nxt.save(update_fields=["due_date"])
            self.advance(nxt, at, by, changes)
        else:
            improvement.move_action(
                action=action, to_stage=Stage.ABANDONED, by=by, at=at, reason="Cost outweighs the benefit measured."
            )
