"""The commands a scheduled retraining runs, in order: one list for the Airflow DAG and the CronJob.

Each is `penguins` with the arguments `command_line` gives: `--json` comes last, so that the
outcome is the last line of its output, one line, which Airflow keeps whole as the task's XCom.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ScheduledCommand:
    name: str
    arguments: tuple[str, ...]
    # Airflow's trigger rule: "none_failed" runs after an upstream task that was skipped (exit code 3,
    # data rejected), so that a rejected span does not stop live quality from being watched.
    trigger_rule: str


def scheduled_commands(triggered_by: str) -> tuple[ScheduledCommand, ...]:
    """Retrain on a new span, watch live quality, retrain on a quality dip; `triggered_by` is what
    `penguins history` names as the retrains' trigger (e.g. "airflow")."""
    trigger = ("--triggered-by", triggered_by)
    return (
        ScheduledCommand("retrain_on_new_data", ("retrain", "--when-new-data", *trigger), "all_success"),
        ScheduledCommand("monitor", ("monitor",), "none_failed"),
        ScheduledCommand(
            "retrain_when_quality_dips", ("retrain", "--when-quality-dips", *trigger), "none_failed"
        ),
    )


def command_line(command: ScheduledCommand, workspace: str) -> list[str]:
    """The arguments of `penguins` for `command` on `workspace`, ending in `--json`."""
    return [*command.arguments, "--workspace", workspace, "--json"]
