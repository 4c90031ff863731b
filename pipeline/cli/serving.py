"""The `penguins serve` and `penguins predict` commands."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import warnings
from pathlib import Path

from pipeline.cli.examples import flag, read_examples
from pipeline.config.settings import Settings
from pipeline.run.exit_codes import EXIT_BUSY, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from serving.client import DEFAULT_URLS, PROTOCOLS, PredictionClient, PredictionError
from serving.compat import import_tensorflow_quietly

DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024  # gRPC's own default limit on a received message
DEFAULT_GRPC_PORT = 8500


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
    serve = commands.add_parser("serve", help="serve pushed models with TF Serving's REST and gRPC API")
    serve.add_argument(
        "--workspace", type=Path, default=Path("workspace"), help="whose serving/ folder to serve"
    )
    serve.add_argument("--model", default=settings.model_name, help="model name (default: from the config)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    serve.add_argument("--port", type=int, default=8501, help="REST port")
    serve.add_argument(
        "--grpc-port", type=int, help="gRPC port (default: 8500; with --upstream only beside --upstream-grpc)"
    )
    serve.add_argument("--poll-seconds", type=float, default=1.0, help="how often to look for new versions")
    serve.add_argument(
        "--max-request-bytes",
        type=_byte_count,
        default=DEFAULT_MAX_REQUEST_BYTES,
        help="the largest request accepted, REST body or gRPC message; REST answers 413 beyond it, "
        "gRPC RESOURCE_EXHAUSTED (default: 4 MiB, gRPC's own default)",
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
        help="serve no models here but front the TF Serving REST API at URL (e.g. http://serving:8501): "
        "the same REST API, with request logging and metrics; --poll-seconds is then how often the "
        "upstream is asked which version answers",
    )
    serve.add_argument(
        "--upstream-grpc",
        metavar="HOST:PORT",
        help="with --upstream, also front that TF Serving's gRPC API at HOST:PORT (e.g. serving:8500) "
        "on --grpc-port: Predict logged and counted, model metadata and status passed through",
    )
    serve.set_defaults(handler=command_serve)


def add_predict_parser(commands, settings: Settings) -> None:
    predict = commands.add_parser(
        "predict", help="predict with a running server, for one example given as flags or many from a file"
    )
    predict.add_argument(
        "--url",
        help=f"server address (default: {DEFAULT_URLS['rest']} for rest, {DEFAULT_URLS['grpc']} for grpc)",
    )
    predict.add_argument("--protocol", choices=PROTOCOLS, default="rest")
    predict.add_argument("--model", default=settings.model_name)
    predict.add_argument(
        "--file",
        type=Path,
        help="a CSV or JSON (list of objects) file of examples, with every feature as a column or key; "
        "other columns are ignored",
    )
    predict.add_argument("--json", action="store_true", help="print JSON instead of a table")
    predict.add_argument(
        "--request-id",
        metavar="ID",
        help="the id the server logs this request under, e.g. to add its true label later "
        "(default: the server makes one; it is printed either way)",
    )
    predict.add_argument("--config", type=Path, help="pipeline config naming the features")
    for name in settings.features.numeric:
        predict.add_argument(flag(name), dest=name, type=float, help="a number; omit when not measured")
    for name in settings.features.categorical:
        predict.add_argument(flag(name), dest=name, help="omit when not recorded")
    predict.set_defaults(handler=command_predict, feature_spec=settings.features)


def command_serve(args) -> int:
    from pipeline.config.workspace import Workspace
    from pipeline.run.console import captured_output
    from serving.server.serve import Monitoring, PortUnavailableError, serve, serve_front

    if args.upstream_grpc and not args.upstream:
        print(
            "Refused: --upstream-grpc needs --upstream URL (the same TF Serving's REST API).", file=sys.stderr
        )
        return EXIT_USAGE
    if args.upstream and not args.upstream_grpc and args.grpc_port is not None:
        print(
            "Refused: --upstream alone serves REST only; add --upstream-grpc HOST:PORT (the upstream's "
            "gRPC port) to serve gRPC on --grpc-port.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    grpc_port = DEFAULT_GRPC_PORT if args.grpc_port is None else args.grpc_port
    serves_grpc = not args.upstream or args.upstream_grpc
    if serves_grpc and args.port == grpc_port != 0:
        print(f"Refused: --port and --grpc-port are both {args.port}; they must differ.", file=sys.stderr)
        return EXIT_USAGE
    sample_rate = _sample_rate(args.log_sample_rate)
    if sample_rate is None:
        rate = args.log_sample_rate
        print(
            f"Refused: --log-sample-rate must be a number above 0 and at most 1, got {rate!r}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.no_request_log and args.request_log:
        print("Refused: --request-log and --no-request-log contradict each other; give one.", file=sys.stderr)
        return EXIT_USAGE
    workspace = Workspace(args.workspace.resolve()).create()
    request_log = None if args.no_request_log else (args.request_log or workspace.request_log_dir).resolve()
    try:
        with captured_output(workspace.log_dir / "serve.log") as terminal:
            announce = functools.partial(print, file=terminal, flush=True)
            monitoring = Monitoring(request_log, sample_rate, workspace.monitoring_results)
            if args.upstream:
                serve_front(
                    args.upstream, args.upstream_grpc, args.model, args.host, args.port, grpc_port,
                    args.max_request_bytes, args.poll_seconds, announce, monitoring,
                )  # fmt: skip
            else:
                serve(
                    workspace.serving_root, args.model, args.host, args.port, grpc_port,
                    args.max_request_bytes, args.poll_seconds, announce, monitoring,
                )  # fmt: skip
    except PortUnavailableError as error:
        print(f"Refused: {error}", file=sys.stderr)
        return EXIT_BUSY if error.in_use else EXIT_USAGE
    return EXIT_OK


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


def command_predict(args) -> int:
    features = args.feature_spec
    if args.protocol == "grpc":
        _quiet_tensorflow()
    try:
        flags = {name: getattr(args, name) for name in features.inputs}
        instances = read_examples(args.file, flags, features)
        client = PredictionClient(args.url, args.protocol, args.model)
    except ValueError as error:
        print(f"Prediction failed: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with client:
            predictions = client.predict(instances, request_id=args.request_id)
    except PredictionError as error:
        print(f"Prediction failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as error:  # a request id that cannot be sent
        print(f"Prediction failed: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        label = features.label
        print(
            json.dumps(
                [
                    {label: p.label, "probabilities": p.probabilities, "request_id": p.request_id}
                    for p in predictions
                ],
                indent=2,
            )
        )
    else:
        print(_table(predictions))
        if predictions[0].request_id is not None:
            print(f"Request id: {predictions[0].request_id}")
    return EXIT_OK
