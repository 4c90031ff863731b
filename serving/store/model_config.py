"""The live model server config: which versions servers load, and the labels clients pin to.

The committed `serving/models.config` carries the model and its defaults; this module writes
`<serving root>/models.config` after every push and rollback. Only versions that can be served
get a label: `canary` on the newest of them and `stable` on the one before. A model that a
rollback took out of service, or a version that does not load, never carries a label. The
config lists exactly the labelled versions (`specific` version policy), so a server loads them
and nothing else, and answers a request without a version with `canary`. Both TF Serving (which
polls the file) and the local server read it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from google.protobuf import text_format

from serving.store.atomic import write_text_atomically
from serving.store.config_protos import parse_model_server_config
from serving.store.versions import list_versions, load_error, was_rolled_back

TEMPLATE = Path(__file__).resolve().parents[1] / "models.config"
LIVE_CONFIG = "models.config"
CONTAINER_MODELS_ROOT = "/models"
STABLE, CANARY = "stable", "canary"


def servable_versions(model_dir: Path, check: Callable[[Path], str | None] = load_error) -> list[int]:
    """The newest two versions that may be served, newest first: not rolled back, and loading."""
    found = []
    for version in reversed(list_versions(model_dir)):
        version_dir = model_dir / str(version)
        if not was_rolled_back(version_dir, model_dir) and check(version_dir) is None:
            found.append(version)
            if len(found) == 2:
                break
    return found


def choose_labels(model_dir: Path, check: Callable[[Path], str | None] = load_error) -> dict[str, int]:
    """`canary` on the newest version that may be served, `stable` on the one before (or the same)."""
    found = servable_versions(model_dir, check)
    return {CANARY: found[0], STABLE: found[-1]} if found else {}


def render_live_config(serving_root: Path, model_name: str, labels: dict[str, int]) -> Path:
    """Writes the live config atomically, so TF Serving never polls a half-written file."""
    config = parse_model_server_config(TEMPLATE)
    model = config.model_config_list.config[0]
    model.name = model_name
    model.base_path = f"{CONTAINER_MODELS_ROOT}/{model_name}"
    model.version_labels.clear()
    model.version_labels.update(labels)
    model.model_version_policy.specific.versions[:] = sorted(set(labels.values()))
    return write_text_atomically(serving_root / LIVE_CONFIG, text_format.MessageToString(config))


def _live_model(serving_root: Path, model_name: str):
    path = serving_root / LIVE_CONFIG
    if path.is_file():
        for model in parse_model_server_config(path).model_config_list.config:
            if model.name == model_name:
                return model
    return None


def read_labels(serving_root: Path, model_name: str) -> dict[str, int]:
    """Labels from the live config; without one (versions put in place by hand), the newest two."""
    model = _live_model(serving_root, model_name)
    if model is not None:
        return dict(model.version_labels)
    newest = list_versions(serving_root / model_name)[-2:]
    return {CANARY: newest[-1], STABLE: newest[0]} if newest else {}


def loaded_versions(serving_root: Path, model_name: str) -> list[int] | None:
    """The versions the live config tells servers to load, or None without a live config."""
    model = _live_model(serving_root, model_name)
    if model is None or model.model_version_policy.WhichOneof("policy_choice") != "specific":
        return None
    return sorted(model.model_version_policy.specific.versions)


def served_version(serving_root: Path, model_name: str) -> int | None:
    """The version that answers a request naming no version: `canary`."""
    return read_labels(serving_root, model_name).get(CANARY)
