"""The mass-delete guard (rule 10): a run that would delete too much stops and waits for a person."""

from __future__ import annotations

from exsync.connector import Side
from exsync.engine.planner import Plan
from exsync.engine.policy import Policy


def guard_reason(plan: Plan, policy: Policy) -> str | None:
    """Why this plan must not run unattended, or None when it may."""
    for side in plan.looks_empty:
        return (
            f"the {side.value} side suddenly looks empty although {plan.sizes[side]} items are linked "
            "(a wrong folder, filter or permission?); nothing was deleted"
        )
    for side in Side:
        deletes = plan.deletes(side)
        size = max(plan.sizes.get(side, 0), 1)
        if deletes > policy.max_deletes and deletes > policy.max_delete_share * size:
            return (
                f"the run would delete {deletes} of {size} items on the {side.value} side "
                f"(more than guard.max_deletes = {policy.max_deletes} and "
                f"guard.max_delete_share = {policy.max_delete_share:g}); nothing was deleted"
            )
    return None
