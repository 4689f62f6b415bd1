"""insert_audited: a new row and the audit entry django-auditlog itself would write for it.

The library's receiver is the reference: the same incident saved with it and through
insert_audited must leave the same entry (changes, actor, address, team, correlation id),
and created_changes must equal the library's model_instance_diff(None, instance).
"""

import datetime as dt

import pytest
from auditlog.cid import set_cid
from auditlog.context import disable_auditlog, set_actor
from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.models import Value
from django.db.models.functions import Upper
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.audit import created_changes, insert_audited
from core.prepared import PreparedInsert
from incidents.models import Incident, TimelineEvent
from tests.factories import ChangeFactory, MembershipFactory, ProblemFactory, ServiceFactory

pytestmark = pytest.mark.django_db

INSERT = PreparedInsert(Incident)
# What differs between two otherwise equal incidents: their ids and their own clocks.
OWN = {"id", "external_id", "created_at", "updated_at"}


def new_incident(team, external_id, **fields):
    started = timezone.now().replace(microsecond=0) - dt.timedelta(hours=3)
    values = {
        "team": team,
        "title": "Checkout down",
        "severity": "SEV2",
        "started_at": started,
        "detected_at": started + dt.timedelta(minutes=4),
        "source": "pagerduty",
        "external_id": external_id,
    }
    return Incident(**(values | fields))


def varied_incidents(team):
    lead = MembershipFactory(team=team, role="lead").user
    service = ServiceFactory(team=team)
    yield new_incident(team, "plain")
    yield new_incident(
        team,
        "full",
        service=service,
        problem=ProblemFactory(team=team, service=service),
        caused_by_change=ChangeFactory(team=team, service=service),
        commander=lead,
        created_by=lead,
        summary="Ünïcode « texte » and <b>markup</b>",
        status=Incident.Status.RESOLVED,
        acknowledged_at=timezone.now() - dt.timedelta(hours=2, minutes=50),
        mitigated_at=timezone.now() - dt.timedelta(hours=2),
        resolved_at=timezone.now() - dt.timedelta(hours=1),
        url="https://example.pagerduty.com/incidents/Q1",
        fingerprint="4f1c2a",
    )
    yield new_incident(team, "", source="")  # no reference at all


@pytest.mark.parametrize("as_json", [False, True])
def test_created_changes_equal_the_librarys_diff_for_a_new_row(team, settings, as_json):
    settings.AUDITLOG_STORE_JSON_CHANGES = as_json
    for incident in varied_incidents(team):
        with disable_auditlog():
            incident.save()
        expected = model_instance_diff(None, incident, use_json_for_changes=as_json)
        assert created_changes(incident) == expected
        assert "updated_at" not in expected  # the registry's exclusions are kept (core.audit.register)


def test_created_changes_follow_the_registration_when_a_model_is_registered_again(team):
    from auditlog.registry import auditlog

    from core.audit import register

    incident = new_incident(team, "again")
    with disable_auditlog():
        incident.save()
    assert "summary" in created_changes(incident)  # the fields are picked once per registration...
    auditlog.unregister(Incident)
    auditlog.register(Incident, include_fields=["title", "severity"])
    try:
        assert created_changes(incident) == model_instance_diff(None, incident)  # ...and again after it
        assert set(created_changes(incident)) == {"title", "severity"}
    finally:
        auditlog.unregister(Incident)
        register(Incident)  # as incidents.apps registers it
    assert created_changes(incident) == model_instance_diff(None, incident)
    assert "summary" in created_changes(incident)


def entry_of(incident):
    entry = LogEntry.objects.get(content_type=ContentType.objects.get_for_model(Incident), object_id=incident.pk)
    return entry


def test_the_entry_is_the_one_the_librarys_receiver_writes(team):
    user = MembershipFactory(team=team, role="member").user
    set_cid(None)
    with set_actor(user, remote_addr="203.0.113.7", remote_port=44321):
        for reference in varied_incidents(team):
            twin_ref = f"{reference.external_id}-twin" if reference.external_id else ""
            twin = new_incident(team, twin_ref, **{
                f.attname: getattr(reference, f.attname)
                for f in Incident._meta.concrete_fields
                if f.attname not in {"id", "external_id", "source"}
            }, source=reference.source)  # fmt: skip
            twin.save()  # django-auditlog's own receiver
            insert_audited(INSERT, reference)
            ours, theirs = entry_of(reference), entry_of(twin)
            assert ours.pk != theirs.pk
            for name in ("content_type_id", "action", "actor_id", "remote_addr", "remote_port", "cid"):
                assert getattr(ours, name) == getattr(theirs, name), name
            assert ours.actor_id == user.pk and ours.remote_addr == "203.0.113.7"
            assert ours.additional_data == theirs.additional_data == {"team_id": team.pk}
            assert ours.object_pk == str(reference.pk) and ours.object_repr == str(reference)
            assert ours.serialized_data == theirs.serialized_data
            assert ours.changes.keys() == theirs.changes.keys()
            assert {k: v for k, v in ours.changes.items() if k not in OWN} == {
                k: v for k, v in theirs.changes.items() if k not in OWN
            }
            assert ours.changes["id"] == ["None", str(reference.pk)]


def test_one_entry_per_row_and_none_under_disable_auditlog(team):
    first, second = new_incident(team, "one"), new_incident(team, "two")
    insert_audited(INSERT, first)
    with disable_auditlog():
        insert_audited(INSERT, second)
    assert LogEntry.objects.filter(object_id=first.pk, content_type__model="incident").count() == 1
    assert not LogEntry.objects.filter(object_id=second.pk, content_type__model="incident").exists()
    assert Incident.objects.filter(pk=second.pk).exists()


def test_the_prepared_insert_writes_what_save_writes_in_one_query(team):
    ours, theirs = new_incident(team, "prepared"), new_incident(team, "saved")
    with disable_auditlog():
        theirs.save()
        with CaptureQueriesContext(connection) as captured:
            INSERT.save(ours)
    assert len(captured) == 1 and captured[0]["sql"].startswith("INSERT")
    assert ours.pk is not None and ours._state.adding is False and ours._state.db == "default"
    stored_ours, stored_theirs = Incident.objects.get(pk=ours.pk), Incident.objects.get(pk=theirs.pk)
    for field in Incident._meta.concrete_fields:
        if field.name not in OWN:
            assert getattr(stored_ours, field.attname) == getattr(stored_theirs, field.attname), field.name
    assert stored_ours.created_at is not None and stored_ours.status == Incident.Status.OPEN  # defaults applied


def test_the_prepared_insert_sends_save_signals_in_the_same_order_as_save(team):
    heard = []

    def before(sender, instance, raw, update_fields, **kwargs):
        heard.append(("pre_save", instance.pk, raw, update_fields))

    def after(sender, instance, created, raw, update_fields, **kwargs):
        heard.append(("post_save", instance.pk, created, raw, update_fields))

    pre_save.connect(before, sender=Incident)
    post_save.connect(after, sender=Incident)
    try:
        with disable_auditlog():
            incident = new_incident(team, "signals")
            INSERT.save(incident)
    finally:
        pre_save.disconnect(before, sender=Incident)
        post_save.disconnect(after, sender=Incident)
    assert heard == [("pre_save", None, False, None), ("post_save", incident.pk, True, False, None)]


def test_a_failed_prepared_insert_marks_the_transaction_for_rollback_as_save_does(team):
    insert_audited(INSERT, new_incident(team, "taken"))
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            insert_audited(INSERT, new_incident(team, "taken"))  # the unique reference
        assert transaction.get_connection().needs_rollback  # the block is rolled back when it ends
    assert Incident.objects.filter(external_id="taken").count() == 1


def test_a_row_with_a_primary_key_goes_through_save(team):
    incident = new_incident(team, "existing")
    INSERT.save(incident)
    incident.title = "Renamed"
    INSERT.save(incident)  # not new: an update, by save() itself
    assert Incident.objects.get(pk=incident.pk).title == "Renamed"
    with pytest.raises(TypeError):
        INSERT.save(ServiceFactory.build(team=team))


def test_rows_written_by_the_new_rows_receivers_keep_their_own_entries(team):
    """Only the new row's creation entry is left to insert_audited, not every entry of the save."""

    def note_it(sender, instance, created, **kwargs):
        if created:
            TimelineEvent.objects.create(team=instance.team, incident=instance, occurred_at=timezone.now(), text="hi")

    post_save.connect(note_it, sender=Incident)
    try:
        incident = new_incident(team, "with-a-note")
        insert_audited(INSERT, incident)
    finally:
        post_save.disconnect(note_it, sender=Incident)
    note = TimelineEvent.objects.get(incident=incident)
    assert LogEntry.objects.filter(content_type__model="incident", object_id=incident.pk).count() == 1
    assert LogEntry.objects.filter(content_type__model="timelineevent", object_id=note.pk).count() == 1


def test_an_overridden_save_is_the_one_that_runs(team, monkeypatch):
    calls = []
    real_save = Incident.save

    def patched(self, *args, **kwargs):
        calls.append(self.external_id)
        real_save(self, *args, **kwargs)

    monkeypatch.setattr(Incident, "save", patched)  # as the database fault tests do
    incident = new_incident(team, "patched")
    insert_audited(INSERT, incident)
    assert calls == ["patched"]
    assert LogEntry.objects.filter(content_type__model="incident", object_id=incident.pk).count() == 1


def test_an_expression_as_a_value_goes_through_save(team):
    incident = new_incident(team, "expression", title=Upper(Value("shouted")))
    insert_audited(INSERT, incident)
    assert Incident.objects.get(pk=incident.pk).title == "SHOUTED"
    assert LogEntry.objects.filter(content_type__model="incident", object_id=incident.pk).count() == 1


def test_an_existing_row_is_saved_as_an_update_with_the_librarys_entry(team):
    incident = new_incident(team, "again")
    insert_audited(INSERT, incident)
    incident.title = "Checkout down again"
    insert_audited(INSERT, incident)
    actions = list(
        LogEntry.objects.filter(content_type__model="incident", object_id=incident.pk)
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
