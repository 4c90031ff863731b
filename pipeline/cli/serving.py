"""The `penguins serve` and `penguins predict` commands."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import warnings
from pathlib import Path

from pipeline.cli.examples import flag, read_examples
from pipeline.cli.help import add_command
from pipeline.cli.outcome import add_json_option, refused, write_outcome
from pipeline.config.settings import Settings
from pipeline.run.exit_codes import EXIT_BUSY, EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandResult
from serving.addresses import DEFAULT_URLS, grpc_target, port_number, rest_url
from serving.client import PROTOCOLS, PredictionClient, PredictionError
from serving.compat import import_tensorflow_quietly

DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024  # gRPC's own default limit on a received message
DEFAULT_PORT, DEFAULT_GRPC_PORT = "8501", "8500"


def _byte_count(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number of bytes, got {text!r}")
    return int(text)


def _sample_rate(text: str) -> float | None:
    """The rate, or None when it is not a number in (0, 1]: refused in one line, not argparse's two."""
    try:
        rate = float(text)
    except ValueError:
        return None
    return rate if 0 < rate <= 1 else None


def add_serve_parser(commands, settings: Settings) -> None:
    serve = add_command(
        commands, "serve", "serve pushed models with TF Serving's REST and gRPC API", "serving"
    )
    serve.add_argument(
        "--workspace",
        type=Path,
        default=Path("workspace"),
        metavar="DIR",
        help="whose serving/ folder to serve (default ./workspace)",
    )
    serve.add_argument("--model", default=settings.model_name, help="model name (default: from the config)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    # Ports are checked by the command, not argparse, so that a bad one is refused in one line.
    serve.add_argument("--port", default=DEFAULT_PORT, help=f"REST port (default: {DEFAULT_PORT})")
    serve.add_argument(
        "--grpc-port",
        metavar="PORT",
        help=f"gRPC port (default: {DEFAULT_GRPC_PORT}; with --upstream, only beside --upstream-grpc)",
    )
    serve.add_argument(
        "--poll-seconds",
        type=float,
        default=1.0,
        metavar="S",
        help="how often to look for new versions (default: 1)",
    )
    serve.add_argument(
        "--max-request-bytes",
        type=_byte_count,
        default=DEFAULT_MAX_REQUEST_BYTES,
        metavar="N",
        help="the largest REST body or gRPC message accepted; REST answers 413 beyond it, gRPC "
        "RESOURCE_EXHAUSTED (default: 4 MiB, gRPC's own)",
    )
    serve.add_argument(
        "--request-log",
        type=Path,
        metavar="DIR",
        help="where answered predictions are logged, as TFRecord files of tf.Example "
        "(default: WORKSPACE/monitoring/requests)",
    )
    serve.add_argument(
        "--log-sample-rate",
        default="1",
        metavar="R",
        help="the share of requests logged, above 0 and at most 1 (default: 1, every request)",
    )
    serve.add_argument("--no-request-log", action="store_true", help="log no requests")
    serve.add_argument(
        "--upstream",
        metavar="URL",
        help="serve no models but front the TF Serving REST API at URL (e.g. http://serving:8501), "
        "logged and measured; --poll-seconds is then how often it is asked which version answers",
    )
    serve.add_argument(
        "--upstream-grpc",
        metavar="HOST:PORT",
        help="with --upstream, also front its gRPC API at HOST:PORT, on --grpc-port",
    )
    serve.add_argument(
        "--wait-for-upstream",
        action="store_true",
        help="with --upstream, answer nothing until the upstream serves the model",
    )
    add_json_option(serve)
    serve.set_defaults(handler=command_serve)


def add_predict_parser(commands, settings: Settings) -> None:
    predict = add_command(commands, "predict", "predict with a running server (flags or a file)", "serving")
    predict.add_argument(
        "--url",
        help=f"server address (default: {DEFAULT_URLS['rest']} for rest, {DEFAULT_URLS['grpc']} for grpc)",
    )
    predict.add_argument("--protocol", choices=PROTOCOLS, default="rest", help="default: rest")
    predict.add_argument("--model", default=settings.model_name, help="model name (default: from the config)")
    predict.add_argument(
        "--file",
        type=Path,
        help="a CSV or JSON (list of objects) file of examples, with every feature as a column or key; "
        "other columns are ignored",
    )
    predict.add_argument(
        "--json",
        action="store_true",
        help="print JSON instead of a table; a failure is one object with its exit code and error",
    )
    predict.add_argument(
        "--request-id",
        metavar="ID",
        help="the id the server logs this request under, e.g. to add its true label later "
        "(default: the server makes one; it is printed either way)",
    )
    predict.add_argument("--config", type=Path, help="pipeline config naming the features")
    example = predict.add_argument_group("one example, instead of --file (leave out what was not measured)")
    for name in settings.features.numeric:
        example.add_argument(flag(name), dest=name, type=float, metavar="NUMBER")
    for name in settings.features.categorical:
        example.add_argument(flag(name), dest=name, metavar="VALUE")
    predict.set_defaults(handler=command_predict, feature_spec=settings.features)


def _serve_refusal(args) -> str | None:
    """Why flags that parse do not go together, or None."""
    if args.upstream_grpc and not args.upstream:
        return "--upstream-grpc needs --upstream URL (the same TF Serving's REST API)."
    if args.wait_for_upstream and not args.upstream:
        return "--wait-for-upstream needs --upstream URL (the TF Serving to wait for)."
    if args.upstream and not args.upstream_grpc and args.grpc_port is not None:
        return (
            "--upstream alone serves REST only; add --upstream-grpc HOST:PORT (the upstream's "
            "gRPC port) to serve gRPC on --grpc-port."
        )
    if args.no_request_log and args.request_log:
        return "--request-log and --no-request-log contradict each other; give one."
    return None


def _upstream(flag: str, address: str | None, checked) -> str | None:
    try:
        return address and checked(address)
    except ValueError as error:
        raise ValueError(f"{flag}: {error}") from None


def _checked_addresses(args) -> None:
    """Ports as numbers and upstreams as addresses, in place; ValueError for what cannot be one."""
    args.port = port_number(args.port, "--port", any_free=True)
    args.grpc_port = port_number(args.grpc_port or DEFAULT_GRPC_PORT, "--grpc-port", any_free=True)
    args.upstream = _upstream("--upstream", args.upstream, rest_url)
    args.upstream_grpc = _upstream("--upstream-grpc", args.upstream_grpc, grpc_target)


def command_serve(args) -> CommandResult:
    from pipeline.config.workspace import Workspace
    from pipeline.run.console import captured_output
    from serving.server.ports import PortUnavailableError
    from serving.server.serve import serve, serve_front
    from serving.server.settings import Monitoring, ServerSettings

    refusal = _serve_refusal(args)
    if refusal:
        return refused(refusal)
    try:
        _checked_addresses(args)
    except ValueError as error:
        return refused(f"{error}.")
    serves_grpc = not args.upstream or args.upstream_grpc
    if serves_grpc and args.port == args.grpc_port != 0:
        return refused(f"--port and --grpc-port are both {args.port}; they must differ.")
    sample_rate = _sample_rate(args.log_sample_rate)
    if sample_rate is None:
        return refused(
            f"--log-sample-rate must be a number above 0 and at most 1, got {args.log_sample_rate!r}"
        )
    workspace = Workspace(args.workspace.resolve()).create()
    request_log = None if args.no_request_log else (args.request_log or workspace.request_log_dir).resolve()
    settings = ServerSettings(
        model_name=args.model,
        host=args.host,
        port=args.port,
        grpc_port=args.grpc_port,
        max_request_bytes=args.max_request_bytes,
        poll_seconds=args.poll_seconds,
        monitoring=Monitoring(request_log, sample_rate, workspace.monitoring_results),
    )
    try:
        with captured_output(workspace.log_dir / "serve.log") as terminal:
            announce = functools.partial(print, file=terminal, flush=True)
            if args.upstream:
                serve_front(settings, args.upstream, args.upstream_grpc, announce, args.wait_for_upstream)
            else:
                serve(settings, workspace.serving_root, announce)
    except PortUnavailableError as error:
        return refused(str(error), EXIT_BUSY if error.in_use else EXIT_USAGE)
    return CommandResult(EXIT_OK)


def _table(predictions) -> str:
    classes = list(predictions[0].probabilities)
    width = max(len(c) for c in classes + [p.label for p in predictions]) + 2
    lines = ["#".rjust(4) + "  " + "prediction".ljust(width) + "".join(c.rjust(width) for c in classes)]
    for index, prediction in enumerate(predictions, 1):
        lines.append(
            str(index).rjust(4)
            + "  "
            + prediction.label.ljust(width)
            + "".join(f"{prediction.probabilities[c]:.3f}".rjust(width) for c in classes)
        )
    return "\n".join(lines)


def _quiet_tensorflow() -> None:
    """The gRPC client imports TensorFlow for its protos; its start-up chatter is not for users."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    import_tensorflow_quietly()


def _prediction_failed(args, exit_code: int, error: Exception) -> int:
    """One line on stderr; with --json also the outcome object on stdout, for scripts."""
    message = f"Prediction failed: {error}"
    print(message, file=sys.stderr)
    if args.json:
        write_outcome(sys.stdout, "predict", CommandResult(exit_code, {"error": message}))
    return exit_code


def command_predict(args) -> int:
    features = args.feature_spec
    if args.protocol == "grpc":
        _quiet_tensorflow()
    try:
        flags = {name: getattr(args, name) for name in features.inputs}
        instances = read_examples(args.file, flags, features)
        client = PredictionClient(args.url, args.protocol, args.model)
    except ValueError as error:
        return _prediction_failed(args, EXIT_USAGE, error)
    try:
        with client:
            predictions = client.predict(instances, request_id=args.request_id)
    except PredictionError as error:
        return _prediction_failed(args, EXIT_FAILED, error)
    except ValueError as error:  # a request id that cannot be sent
        return _prediction_failed(args, EXIT_USAGE, error)
    if args.json:
        label = features.label
        print(
            json.dumps(
                [
                    {label: p.label, "probabilities": p.probabilities, "request_id": p.request_id}
                    for p in predictions
                ]
            )
        )
    else:
        print(_table(predictions))
        if predictions[0].request_id is not None:
            print(f"Request id: {predictions[0].request_id}")
    return EXIT_OK
