"""The engine: pure decisions (plan, merge) and careful execution (execute, guard, run)."""

from exsync.engine.merge import FieldConflict, Merge, merge
from exsync.engine.planner import IdentityConflict, Op, Plan, correlation_key, needs, plan
from exsync.engine.policy import (
    CONFLICT_POLICIES,
    BusinessWins,
    ConflictPolicy,
    Direction,
    MailboxWins,
    Policy,
    RecordOnly,
    Resolution,
    direction,
    policy_for,
)
from exsync.engine.run import PairRun, RunOptions, RunReport

__all__ = [
    "CONFLICT_POLICIES",
    "BusinessWins",
    "ConflictPolicy",
    "Direction",
    "FieldConflict",
    "IdentityConflict",
    "MailboxWins",
    "Merge",
    "Op",
    "PairRun",
    "Plan",
    "Policy",
    "RecordOnly",
    "Resolution",
    "RunOptions",
    "RunReport",
    "correlation_key",
    "direction",
    "merge",
    "needs",
    "plan",
    "policy_for",
]
