"""Provisioning: which staff members get a profile, and which profiles stop.

Nothing is ever deleted here: a profile whose staff member left is returned stopped, with the
reason in words, and keeps its links (the staff member may come back, and the links are the
record of what sync put in that mailbox).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from exsync.connector.protocol import Staff
from exsync.settings.layers import effective
from exsync.settings.messages import closest
from exsync.settings.schema import Config
from exsync.state.records import ProfileRow, SettingChange


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    profiles: list[ProfileRow]  # active and stopped, ordered by staff id
    warnings: list[str] = field(default_factory=list)  # for the admin; never fatal

    @property
    def active(self) -> list[ProfileRow]:
        return [row for row in self.profiles if row.active]

    @property
    def stopped(self) -> list[ProfileRow]:
        return [row for row in self.profiles if not row.active]


def _why_not(member: Staff, config: Config, *, had_profile: bool) -> str | None:
    """Why ``member`` gets no (active) profile, or None if they get one."""
    code = member.code
    if not member.active:
        return f"staff member {code} is {'no longer' if had_profile else 'not'} active"
    if not member.email.strip():
        return f"staff member {code} has no e-mail address"
    if not config.profile_enabled(code):
        return f"profile {code} is switched off in the configuration ([profiles.{code}] enabled = false)"
    if config.policy.provision == "listed" and code not in config.profiles:
        return (
            f'profile {code} is not listed in the configuration (policy.provision = "listed" '
            f"and there is no [profiles.{code}] table)"
        )
    return None


def provision(
    config: Config,
    staff: Sequence[Staff],
    existing: Sequence[ProfileRow],
    *,
    changes: Sequence[SettingChange] = (),
) -> ProvisionResult:
    """The profiles the staff list calls for, given the ones already provisioned.

    ``changes`` (the store's setting changes) only matter for the default time zone.
    """
    default_zone = effective(config, changes).time_zone
    had = {row.code for row in existing}
    by_code = {member.code: member for member in staff}
    rows: dict[str, ProfileRow] = {}
    reasons: dict[str, str] = {}
    warnings: list[str] = []

    for member in staff:
        reason = _why_not(member, config, had_profile=member.code in had)
        if reason is not None:
            reasons[member.code] = reason
            continue
        rows[member.code] = ProfileRow(
            code=member.code,
            staff_id=member.id,
            email=member.email.strip(),
            name=member.name,
            time_zone=member.time_zone or default_zone,
        )

    for row in existing:
        new = rows.get(row.code)
        if new is not None:
            if row.email and row.email.casefold() != new.email.casefold():
                warnings.append(
                    f"staff member {row.code}'s e-mail changed from {row.email} to {new.email}: "
                    "the profile now syncs the new mailbox"
                )
            continue
        reason = reasons.get(row.code, f"staff member {row.code} is no longer in the staff list")
        rows[row.code] = dataclasses.replace(row, active=False, stopped_reason=reason)

    for code in config.profile_codes():
        if code not in by_code:
            suggestion = closest(code, by_code)
            hint = f" (did you mean {suggestion}?)" if suggestion else ""
            warnings.append(
                f"[profiles.{code}] names no staff member{hint}; fix the code or remove the table"
            )
        elif code in reasons and config.profile_enabled(code) and code not in had:
            warnings.append(f"[profiles.{code}] gets no profile: {reasons[code]}")

    profiles = sorted(rows.values(), key=lambda row: (row.staff_id, row.code))
    return ProvisionResult(profiles=profiles, warnings=warnings)
