"""The `penguins` command line.

Heavy imports (TensorFlow, TFX) happen inside the commands and inside the captured-output block,
so `penguins --help` is instant and TensorFlow's start-up noise lands in the log file.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
from pathlib import Path

from pipeline.cli.cluster import add_cluster_parser
from pipeline.cli.data import add_data_parsers, add_synth_parser
from pipeline.cli.export import add_export_parser
from pipeline.cli.help import docs_epilog
from pipeline.cli.history import add_history_parser
from pipeline.cli.metadata import add_metadata_parser
from pipeline.cli.monitor import add_monitor_parsers
from pipeline.cli.outcome import CommandParser, UsageError, failure, json_stream, refused, write_outcome
from pipeline.cli.retrain import add_retrain_parser
from pipeline.cli.run import add_run_parser
from pipeline.cli.schedule import add_schedule_parser
from pipeline.cli.serving import add_predict_parser, add_serve_parser
from pipeline.cli.versions import add_version_parsers
from pipeline.config.metadata_location import MetadataLocationError
from pipeline.config.settings import ConfigError, load_settings
from pipeline.config.workspace import MissingWorkspaceError
from pipeline.intake.raw_csv import DataError, NoDataError
from pipeline.metadata.copy import CopyRefusedError
from pipeline.metadata.run_lock import StoreBusyError
from pipeline.metadata.server import MetadataStoreError
from pipeline.run.endpoints import EndpointUnreachableError
from pipeline.run.exit_codes import (
    EXIT_BUSY,
    EXIT_DATA_REJECTED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandResult,
)
from pipeline.run.lock import WorkspaceBusyError


def _config_from_argv(argv: list[str] | None) -> Path | None:
    """The --config value, read ahead so that `predict` can offer one flag per configured feature."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", type=Path)
    return pre.parse_known_args(argv)[0].config


def _version() -> str:
    """The project's version and the stack it runs on (docs/platforms.md), from the
    installed packages' metadata: an image or a machine says which stack it got without importing it."""
    version = importlib.metadata.version
    return (
        f"penguins {version('penguins-tfx')} (TFX {version('tfx')}, TensorFlow {version('tensorflow')}, "
        f"Python {platform.python_version()})"
    )


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="penguins",
        description=__doc__.splitlines()[0],
        epilog=f"{docs_epilog('running')}; `penguins COMMAND --help` names each command's page",
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.set_defaults(json_outcome=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    settings = load_settings(_config_from_argv(argv))

    add_run_parser(commands)
    add_data_parsers(commands)
    add_history_parser(commands)
    add_version_parsers(commands)
    add_retrain_parser(commands)
    add_schedule_parser(commands)
    add_export_parser(commands)
    add_serve_parser(commands, settings)
    add_predict_parser(commands, settings)
    add_synth_parser(commands, settings)
    add_monitor_parsers(commands)
    add_cluster_parser(commands)
    add_metadata_parser(commands)
    return parser


def _run_handler(args) -> CommandResult:
    """The handler's result; an error it raises becomes its exit code, with the message on stderr."""
    try:
        result = args.handler(args)
        return result if isinstance(result, CommandResult) else CommandResult(result)
    except ConfigError as error:
        return failure(EXIT_USAGE, f"Config error: {error}")
    except (MissingWorkspaceError, CopyRefusedError) as error:
        return refused(str(error))
    except NoDataError as error:
        return failure(EXIT_USAGE, f"No data: {error}")
    except DataError as error:
        return failure(EXIT_DATA_REJECTED, f"Data rejected: {error}")
    except MetadataLocationError as error:
        return failure(EXIT_USAGE, f"Config error: {error}")
    except (WorkspaceBusyError, StoreBusyError) as error:
        return refused(str(error), EXIT_BUSY)
    except MetadataStoreError as error:
        return failure(EXIT_FAILED, str(error))
    except EndpointUnreachableError as error:
        return failure(EXIT_FAILED, f"Cluster not up: {error}")
    except KeyboardInterrupt:
        return failure(EXIT_INTERRUPTED, "Interrupted; the served model is unchanged.")


def _refused_arguments(arguments: list[str], command: str | None, message: str) -> int:
    """A command line refused before any command ran: one line on stderr, and with --json the outcome."""
    result = failure(EXIT_USAGE, message)
    if "--json" in arguments:
        write_outcome(sys.stdout, command, result)
    return result.exit_code


def _command_named(parser: argparse.ArgumentParser, arguments: list[str]) -> str | None:
    """The command the arguments name: the first that is not an option, if it is one of the commands."""
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    first = next((argument for argument in arguments if not argument.startswith("-")), None)
    return first if first in commands.choices else None


def _quiet_after_the_outcome(unraisable) -> None:
    """Drops the errors TensorFlow's objects raise while the interpreter shuts down ("Exception
    ignored in: AtomicFunction.__del__"): printed after the JSON outcome, they would become the last
    line of the output, which is what a scheduler keeps (Airflow's XCom)."""


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    try:
        try:
            parser = build_parser(argv)
        except ConfigError as error:  # a bad --config is read while the parser is built
            return _refused_arguments(arguments, None, f"Config error: {error}")
        try:
            args = parser.parse_args(argv)
        except UsageError as error:
            sys.stderr.write(error.usage)
            return _refused_arguments(arguments, _command_named(parser, arguments), str(error))
        outcome_stream = json_stream() if getattr(args, "json", False) and args.json_outcome else None
        result = _run_handler(args)
        if outcome_stream is not None:
            with outcome_stream:
                write_outcome(outcome_stream, args.command, result)
            sys.unraisablehook = _quiet_after_the_outcome
        elif getattr(args, "json", False) and "error" in result.outcome:
            # `history --json` prints a list of runs; when it fails, a script still gets the error as data.
            write_outcome(sys.stdout, args.command, result)
        return result.exit_code
    except BrokenPipeError:
        # The reader went away (`penguins history | head`); nothing left to say, and nowhere to say it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
