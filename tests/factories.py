"""factory_boy factories: valid rows by default, every field overridable."""

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from improvement.models import Action, Stage, StageTransition
from incidents.models import Change, ContributingFactor, Incident, Postmortem, Problem, TimelineEvent
from rituals.models import Ritual
from teams.models import Membership, Service, Team

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")
    timezone = "UTC"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.MEMBER


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")


class ProblemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Problem

    team = factory.SubFactory(TeamFactory)
    title = factory.Sequence(lambda n: f"Problem {n}")


class ChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Change

    team = factory.SubFactory(TeamFactory)
    service = factory.SubFactory(ServiceFactory, team=factory.SelfAttribute("..team"))
    title = factory.Sequence(lambda n: f"Deploy {n}")
    kind = Change.Kind.NORMAL
    deployed_at = factory.LazyFunction(timezone.now)
    committed_at = factory.LazyAttribute(lambda c: c.deployed_at - dt.timedelta(hours=3) if c.deployed_at else None)


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    team = factory.SubFactory(TeamFactory)
    service = factory.SubFactory(ServiceFactory, team=factory.SelfAttribute("..team"))
    title = factory.Sequence(lambda n: f"Incident {n}")
    severity = "SEV3"
    status = Incident.Status.OPEN
    started_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=2))
    detected_at = factory.LazyAttribute(lambda i: i.started_at + dt.timedelta(minutes=5))


class TimelineEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimelineEvent

    incident = factory.SubFactory(IncidentFactory)
    team = factory.SelfAttribute("incident.team")
    occurred_at = factory.LazyFunction(timezone.now)
    text = "Something happened."


class PostmortemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Postmortem

    incident = factory.SubFactory(IncidentFactory)
    team = factory.SelfAttribute("incident.team")
    summary = "What happened."
    impact = "Who was affected."


class ContributingFactorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContributingFactor

    postmortem = factory.SubFactory(PostmortemFactory)
    team = factory.SelfAttribute("postmortem.team")
    category = "change"
    description = "A change went out to every zone at once."


class ActionFactory(factory.django.DjangoModelFactory):
    """An action in Plan with a complete plan (ready to move to Do), and its first transition."""

    class Meta:
        model = Action
        skip_postgeneration_save = True

    team = factory.SubFactory(TeamFactory)
    title = factory.Sequence(lambda n: f"Action {n}")
    problem_statement = "Deploys break the gateway."
    hypothesis = "A canary stage catches bad deploys before they reach everyone."
    owner = factory.LazyAttribute(lambda a: MembershipFactory(team=a.team, role="member").user)
    due_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=14))
    target_kind = Action.TargetKind.SERVICE
    target_service = factory.SubFactory(ServiceFactory, team=factory.SelfAttribute("..team"))
    target_direction = Action.Direction.DECREASE
    stage = Stage.PLAN
    stage_entered_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=30))

    @factory.post_generation
    def first_transition(obj, create, extracted, **kwargs):
        if create:
            StageTransition.objects.create(
                team=obj.team, action=obj, from_stage="", to_stage=obj.stage, at=obj.stage_entered_at
            )


class RitualFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ritual

    team = factory.SubFactory(TeamFactory)
    name = "Weekly review board"
    kind = Ritual.Kind.WEEKLY_REVIEW
    weekday = 0
    time_of_day = dt.time(10, 0)
    timezone = factory.SelfAttribute("team.timezone")


# --- rituals ------------------------------------------------------------------------------


class CalendarFeedFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "rituals.CalendarFeed"

    team = factory.SubFactory(TeamFactory)
    label = "Team calendar"


class ReviewSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "rituals.ReviewSession"

    ritual = factory.SubFactory(RitualFactory)
    team = factory.SelfAttribute("ritual.team")
    occurrence = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=7))


def measured_check(action, verdict="effective", *, baseline=6.0, observed=1.0):
    """A Check as the product records it once the window and grace period ended (test setup)."""
    import datetime as dt

    from django.utils import timezone

    from improvement.models import Check
    from improvement.windows import entered_do_at

    do_at = entered_do_at(action)
    check, _created = Check.objects.update_or_create(
        action=action,
        defaults={
            "team": action.team,
            "baseline_value": baseline,
            "observed_value": observed,
            "computed_verdict": verdict,
            "evidence": Check.Evidence.COMPUTED,
            "observed_start": do_at,
            "observed_end": do_at + dt.timedelta(days=action.check_window_days),
            "data_as_of": timezone.now(),
            "measured_at": timezone.now(),
        },
    )
    return check
