"""`penguins cluster up|down|status flink|spark`: a local Flink or Spark cluster for the Beam presets.

`make flink-up`, `make spark-up` and their `-down` twins call it; the `flink` and `spark` Beam
presets then run the pipeline's Beam components there (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import sys

from pipeline.cli.help import add_command
from pipeline.cli.outcome import add_json_option
from pipeline.cluster.settings import ENGINES
from pipeline.run.exit_codes import EXIT_FAILED, EXIT_OK, CommandResult


def add_cluster_parser(commands) -> None:
    cluster = add_command(
        commands, "cluster", "start, stop or check a local Flink or Spark cluster", "scaling"
    )
    actions = cluster.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (
        ("up", "fetch what is missing, then start the cluster, Beam's job server and a worker pool"),
        ("down", "stop every process of the cluster"),
        ("status", "which processes of the cluster run"),
    ):
        parser = add_command(actions, action, text, "scaling")
        parser.add_argument("engine", choices=ENGINES)
        add_json_option(parser)
        parser.set_defaults(handler=command_cluster)


def command_cluster(args: argparse.Namespace) -> CommandResult:
    from pipeline.cluster import lifecycle
    from pipeline.cluster.artifacts import ArtifactError
    from pipeline.cluster.processes import ClusterError

    try:
        if args.action == "up":
            outcome = lifecycle.up(args.engine)
            print(
                f"{args.engine} is up: jobs at {outcome['job_endpoint']}, web UI {outcome['web_ui']}, "
                f"logs in {outcome['logs']}."
            )
        elif args.action == "down":
            outcome = lifecycle.down(args.engine)
            print(
                f"{args.engine}: stopped {', '.join(outcome['stopped']) or 'nothing (it was not running)'}."
            )
        else:
            outcome = lifecycle.status(args.engine)
            for name, pid in outcome["processes"].items():
                print(f"  {name:<12} {'up' if pid else 'down':<7} {f'pid {pid}' if pid else ''}")
            return CommandResult(EXIT_OK if outcome["up"] else EXIT_FAILED, outcome)
    except (ClusterError, ArtifactError) as error:
        message = f"{args.engine} cluster {args.action} failed: {error}"
        print(message, file=sys.stderr)
        return CommandResult(EXIT_FAILED, {"error": message})
    return CommandResult(EXIT_OK, outcome)
