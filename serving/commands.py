"""The `penguins serve` and `penguins predict` commands."""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import warnings
from pathlib import Path

from pipeline.settings import Settings
from serving.client import DEFAULT_URLS, PROTOCOLS, PredictionClient, PredictionError


def add_serve_parser(commands, settings: Settings) -> None:
    serve = commands.add_parser("serve", help="serve pushed models with TF Serving's REST and gRPC API")
    serve.add_argument(
        "--workspace", type=Path, default=Path("workspace"), help="whose serving/ folder to serve"
    )
    serve.add_argument("--model", default=settings.model_name, help="model name (default: from the config)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    serve.add_argument("--port", type=int, default=8501, help="REST port")
    serve.add_argument("--grpc-port", type=int, default=8500, help="gRPC port")
    serve.add_argument("--poll-seconds", type=float, default=1.0, help="how often to look for new versions")
    serve.set_defaults(handler=command_serve)


def _flag(feature: str) -> str:
    return "--" + feature.replace("_", "-")


def add_predict_parser(commands, settings: Settings) -> None:
    predict = commands.add_parser(
        "predict", help="predict with a running server, for one example given as flags or many from a file"
    )
    predict.add_argument("--url", help=f"server address (default: {DEFAULT_URLS})")
    predict.add_argument("--protocol", choices=PROTOCOLS, default="rest")
    predict.add_argument("--model", default=settings.model_name)
    predict.add_argument("--file", type=Path, help="a CSV or JSON (list of objects) file of examples")
    predict.add_argument("--json", action="store_true", help="print JSON instead of a table")
    predict.add_argument("--config", type=Path, help="pipeline config naming the features")
    for name in settings.features.numeric:
        predict.add_argument(_flag(name), dest=name, type=float, help="a number; omit when not measured")
    for name in settings.features.categorical:
        predict.add_argument(_flag(name), dest=name, help="omit when not recorded")
    predict.set_defaults(handler=command_predict, settings=settings)


def command_serve(args) -> int:
    from pipeline.console import captured_output
    from pipeline.workspace import Workspace

    workspace = Workspace(args.workspace.resolve()).create()
    with captured_output(workspace.log_dir / "serve.log") as terminal:
        from serving.server import serve

        serve(
            workspace.serving_root,
            args.model,
            args.host,
            args.port,
            args.grpc_port,
            args.poll_seconds,
            lambda message: print(message, file=terminal, flush=True),
        )
    return 0


def _instance(values: dict, settings: Settings, where: str) -> dict:
    """One request instance: every feature present, missing ones as NaN or ""."""
    instance = {}
    for name in settings.features.numeric:
        value = values.get(name)
        if value in (None, "", "NA"):
            instance[name] = math.nan
        else:
            try:
                instance[name] = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: '{name}' must be a number, got {value!r}") from None
    for name in settings.features.categorical:
        value = values.get(name)
        instance[name] = "" if value in (None, "NA") else str(value)
    return instance


def _read_instances(args, settings: Settings) -> list[dict]:
    if args.file is None:
        given = {name: getattr(args, name) for name in settings.features.inputs}
        if all(value is None for value in given.values()):
            raise ValueError("give the example as flags (see --help) or a file of examples with --file")
        return [_instance(given, settings, "flags")]
    if args.file.suffix.lower() == ".json":
        rows = json.loads(args.file.read_text())
        rows = rows if isinstance(rows, list) else [rows]
        return [_instance(row, settings, f"{args.file}, item {i}") for i, row in enumerate(rows)]
    with args.file.open(newline="") as handle:
        return [
            _instance(row, settings, f"{args.file}, row {i + 2}")
            for i, row in enumerate(csv.DictReader(handle))
        ]


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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", category=FutureWarning)


def command_predict(args) -> int:
    settings = args.settings
    if args.protocol == "grpc":
        _quiet_tensorflow()
    try:
        instances = _read_instances(args, settings)
        with PredictionClient(args.url, args.protocol, args.model) as client:
            predictions = client.predict(instances)
    except (ValueError, OSError, PredictionError) as error:
        print(f"Prediction failed: {error}", file=sys.stderr)
        return 1
    if args.json:
        label = settings.features.label
        print(json.dumps([{label: p.label, "probabilities": p.probabilities} for p in predictions], indent=2))
    else:
        print(_table(predictions))
    return 0
