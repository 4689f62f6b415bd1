"""Rituals, review sessions and decisions, calendar feeds and notifications move to the rituals app."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("improvement", "0004_outgoing_url_guard"),
    ]

    operations = [
        # The tables stay where they are (db_table): only Django's picture of the models moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="notification",
                    name="team",
                ),
                migrations.RemoveField(
                    model_name="notification",
                    name="user",
                ),
                migrations.RemoveField(
                    model_name="reviewdecision",
                    name="action",
                ),
                migrations.RemoveField(
                    model_name="reviewdecision",
                    name="by",
                ),
                migrations.RemoveField(
                    model_name="reviewdecision",
                    name="session",
                ),
                migrations.RemoveField(
                    model_name="reviewdecision",
                    name="team",
                ),
                migrations.RemoveField(
                    model_name="reviewsession",
                    name="attendees",
                ),
                migrations.RemoveField(
                    model_name="reviewsession",
                    name="previous",
                ),
                migrations.RemoveField(
                    model_name="reviewsession",
                    name="ritual",
                ),
                migrations.RemoveField(
                    model_name="reviewsession",
                    name="team",
                ),
                migrations.RemoveField(
                    model_name="ritual",
                    name="attendees",
                ),
                migrations.RemoveField(
                    model_name="ritual",
                    name="team",
                ),
                migrations.DeleteModel(
                    name="CalendarFeed",
                ),
                migrations.DeleteModel(
                    name="Notification",
                ),
                migrations.DeleteModel(
                    name="ReviewDecision",
                ),
                migrations.DeleteModel(
                    name="ReviewSession",
                ),
                migrations.DeleteModel(
                    name="Ritual",
                ),
            ],
            database_operations=[],
        ),
    ]
