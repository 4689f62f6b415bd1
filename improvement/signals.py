"""Domain events other parts of the product react to (outgoing webhooks, notifications, agenda).

Senders fire them after the transaction commits, so a receiver never sees a
write that was rolled back.
"""

from django.dispatch import Signal

# Sent after an action moved stage. kwargs: action (Action), transition (StageTransition).
action_moved = Signal()

# Sent after a review session was opened. kwargs: session (ReviewSession).
review_session_opened = Signal()

# Sent INSIDE the transaction of the write, before it commits (issue 7): for outboxes whose rows
# must commit or roll back with the write itself. Same kwargs as above. A receiver that raises
# rolls the write back, so keep them to database writes.
action_moved_in_transaction = Signal()
review_session_opened_in_transaction = Signal()
