"""Each writable field list is the owning service's: the serializers, the forms and the importer use it.

A field added to a service's list and forgotten in the API (or a form field the service would
refuse as unknown) fails here, before a user meets it as a 400 or a silently ignored value.
"""

import pytest

from imports import fields as import_fields
from improvement import api as improvement_api
from improvement import forms as improvement_forms
from improvement import services as improvement_services
from incidents import api as incidents_api
from incidents import forms as incidents_forms
from incidents import problem_forms
from incidents import services as incidents_services
from rituals import api as rituals_api
from rituals import forms as rituals_forms
from rituals import services as rituals_services

# What a serializer writes besides the service's fields: the team (the route's scoping) and the
# links a service takes as their own argument.
SERIALIZERS = [
    (incidents_api.IncidentSerializer, incidents_services.INCIDENT_FIELDS, {"team"}),
    (incidents_api.ChangeSerializer, incidents_services.CHANGE_FIELDS, {"team"}),
    (incidents_api.ProblemSerializer, incidents_services.PROBLEM_FIELDS, {"team"}),
    (incidents_api.PostmortemSerializer, incidents_services.POSTMORTEM_TEXT_FIELDS, {"incident", "reviewer"}),
    (improvement_api.ActionSerializer, improvement_services.ACTION_FIELDS, {"team", *improvement_api.LINK_FIELDS}),
    (rituals_api.RitualSerializer, rituals_services.RITUAL_FIELDS, {"team", "attendees"}),
]
FORMS = [
    (incidents_forms.IncidentForm, incidents_services.INCIDENT_FIELDS, set()),
    (incidents_forms.PostmortemForm, incidents_services.POSTMORTEM_TEXT_FIELDS, {"reviewer"}),
    (problem_forms.ProblemForm, incidents_services.PROBLEM_FIELDS, set()),
    (improvement_forms.ActionForm, improvement_services.ACTION_FIELDS, set()),
    (rituals_forms.RitualForm, rituals_services.RITUAL_FIELDS, {"attendees"}),
]


@pytest.mark.parametrize(("serializer", "fields", "extra"), SERIALIZERS, ids=lambda v: getattr(v, "__name__", ""))
def test_a_serializer_writes_exactly_its_service_fields(serializer, fields, extra):
    writable = {name for name, field in serializer().fields.items() if not field.read_only}
    assert writable == set(fields) | extra


@pytest.mark.parametrize(("form", "fields", "extra"), FORMS, ids=lambda v: getattr(v, "__name__", ""))
def test_a_form_offers_only_its_service_fields(form, fields, extra):
    assert set(form.base_fields) - extra <= set(fields)


def test_the_importer_reads_the_services_lists():
    assert import_fields.WRITABLE[import_fields.Kind.INCIDENTS] == set(incidents_services.INCIDENT_FIELDS)
    assert import_fields.WRITABLE[import_fields.Kind.CHANGES] == set(incidents_services.CHANGE_FIELDS)


def test_the_lists_name_no_field_twice():
    for fields in (
        incidents_services.INCIDENT_FIELDS,
        incidents_services.CHANGE_FIELDS,
        improvement_services.ACTION_FIELDS,
        rituals_services.RITUAL_FIELDS,
    ):
        assert len(fields) == len(set(fields))
