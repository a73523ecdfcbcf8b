"""One `exsync sync`: provision profiles, then run the chosen pairs in the fixed order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

from exsync.connector import PartUnsupported
from exsync.engine import PairRun, RunOptions, RunReport
from exsync.engine.policy import policy_for
from exsync.model import PART_NAMES, Part
from exsync.service.wiring import BusinessSide, MailboxSide
from exsync.settings import Config, ConfigError, effective, fingerprint, provision
from exsync.state import StateStore
from exsync.state.records import ProfileRow


@dataclass(slots=True)
class SyncResult:
    runs: list[RunReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """DESIGN.md: 3 when a guard suspended a pair (wins over 1), 1 when something failed."""
        if any(r.outcome == "suspended" for r in self.runs):
            return 3
        if any(r.outcome == "failed" for r in self.runs):
            return 1
        return 0

    def as_json(self) -> dict[str, object]:
        return {"runs": [r.as_json() for r in self.runs], "warnings": self.warnings}


def provision_profiles(
    config: Config, store: StateStore, business: BusinessSide, *, save: bool = True
) -> tuple[list[ProfileRow], list[str]]:
    """Profiles from the business side's staff list, saved in the state store (unless ``save`` is off)."""
    result = provision(config, business.staff(), store.profiles(), changes=store.setting_changes())
    if save:
        for row in result.profiles:
            store.save_profile(row)
    return result.profiles, result.warnings


def run_sync(
    config: Config,
    store: StateStore,
    business: BusinessSide,
    mailbox: MailboxSide,
    *,
    profiles: Sequence[str] = (),
    parts: Sequence[str] = (),
    options: RunOptions | None = None,
    on_pair: Callable[[str, str], None] | None = None,
) -> SyncResult:
    """Run every chosen (profile, part): profiles by staff id, parts contacts → calendar → tasks → mail.

    ``on_pair(profile, part)`` is called before each pair runs (for progress output). A dry run
    writes nothing, the provisioned profiles included.
    """
    options = options or RunOptions()
    rows, warnings = provision_profiles(config, store, business, save=not options.dry_run)
    known = {row.code for row in rows}
    unknown = [code for code in profiles if code not in known]
    if unknown:
        raise ConfigError(
            f"--profile: no profile {', '.join(unknown)}. "
            f"Fix: use one of {', '.join(sorted(known)) or '(none)'} (`exsync profile list` shows them)",
            key="--profile",
        )
    business.join_state_store(store)
    result = SyncResult(warnings=warnings)
    changes = store.setting_changes()
    for row in rows:
        if not row.active or (profiles and row.code not in profiles):
            continue
        settings = effective(config, changes, row.code, staff_time_zone=row.time_zone or None)
        for part in PART_NAMES:
            if parts and part not in parts:
                continue
            part_settings = settings.part(cast(Part, part))
            if part_settings.direction == "off" and not parts:
                continue
            if on_pair is not None:
                on_pair(row.code, part)
            try:
                connectors = (
                    business.connector(row, part, part_settings),
                    mailbox.connector(row, part, part_settings),
                )
            except PartUnsupported as exc:
                result.runs.append(RunReport(row.code, part, outcome="skipped", message=str(exc)))
                continue
            report = PairRun(
                row.code, part, policy_for(part_settings), *connectors, store,
                fingerprint(part_settings), options,
            ).run()  # fmt: skip
            result.runs.append(report)
    return result
