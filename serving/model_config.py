"""The live model server config: the committed template plus version labels for real versions.

TF Serving can only label versions that exist, so the committed `serving/models.config` carries
the model and its version policy, and this module writes `<serving root>/models.config` with
`canary` on the newest version and `stable` on the one before it. Both TF Serving (which polls
the file) and the local server read that copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from google.protobuf import text_format

from serving.config_protos import parse_model_server_config
from serving.versions import list_versions

TEMPLATE = Path(__file__).resolve().with_name("models.config")
LIVE_CONFIG = "models.config"
CONTAINER_MODELS_ROOT = "/models"
STABLE, CANARY = "stable", "canary"


def default_labels(versions: list[int]) -> dict[str, int]:
    """`canary` is the newest version; `stable` the one before it (the newest, if it is alone)."""
    if not versions:
        return {}
    return {CANARY: versions[-1], STABLE: versions[-2] if len(versions) > 1 else versions[-1]}


def render_live_config(serving_root: Path, model_name: str, labels: dict[str, int] | None = None) -> Path:
    """Writes the live config atomically, so TF Serving never polls a half-written file."""
    config = parse_model_server_config(TEMPLATE)
    model = config.model_config_list.config[0]
    model.name = model_name
    model.base_path = f"{CONTAINER_MODELS_ROOT}/{model_name}"
    model.version_labels.clear()
    model.version_labels.update(
        labels if labels is not None else default_labels(list_versions(serving_root / model_name))
    )
    path = serving_root / LIVE_CONFIG
    partial = path.with_suffix(".partial")
    partial.write_text(text_format.MessageToString(config))
    os.replace(partial, path)
    return path


def read_labels(serving_root: Path, model_name: str) -> dict[str, int]:
    """Labels from the live config, or the default labels when there is none yet."""
    path = serving_root / LIVE_CONFIG
    if path.is_file():
        config = parse_model_server_config(path)
        for model in config.model_config_list.config:
            if model.name == model_name:
                return dict(model.version_labels)
    return default_labels(list_versions(serving_root / model_name))
