"""Domain events on review sessions (outgoing webhooks react to them).

`review_session_opened` is sent after the transaction commits, so a receiver never sees a write
that was rolled back; `review_session_opened_in_transaction` is sent inside it, for outboxes whose
rows must commit or roll back with the session itself. kwargs: session (ReviewSession).
"""

from django.dispatch import Signal

review_session_opened = Signal()
review_session_opened_in_transaction = Signal()
