"""Domain events on actions (outgoing webhooks react to them).

`action_moved` is sent after the transaction commits, so a receiver never sees a write that was
rolled back; `action_moved_in_transaction` is sent inside it, before it commits, for outboxes whose
rows must commit or roll back with the move itself (a receiver that raises rolls the move back, so
keep them to database writes). kwargs: action (Action), transition (StageTransition).
"""

from django.dispatch import Signal

action_moved = Signal()
action_moved_in_transaction = Signal()
