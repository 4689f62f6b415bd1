"""FilterSets of the delivery log."""

import django_filters
from django.utils.translation import gettext_lazy as _

from integrations.models import WebhookDelivery


class DeliveryFilterSet(django_filters.FilterSet):
    """The delivery log's filter (settings → integrations → deliveries)."""

    outcome = django_filters.ChoiceFilter(
        empty_label=_("any"), choices=WebhookDelivery.Outcome.choices, label=_("Outcome")
    )

    class Meta:
        model = WebhookDelivery
        fields = ["outcome"]
