"""Domain events other parts of the product react to (outgoing webhooks, notifications, agenda).

Senders fire them after the transaction commits, so a receiver never sees a
write that was rolled back.
"""

from django.dispatch import Signal

# Sent after an action moved stage. kwargs: action (Action), transition (StageTransition).
action_moved = Signal()

# Sent after a review session was opened. kwargs: session (ReviewSession).
review_session_opened = Signal()
