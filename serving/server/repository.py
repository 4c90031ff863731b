"""Loads the model versions in a serving folder and keeps them current, as TF Serving does.

A watcher thread polls the folder. A new complete version is loaded in the background and only
then becomes available, so the version it replaces keeps answering until the switch. The versions
loaded are the ones the live config lists (see serving/store/model_config.py). Its labels take effect
only once the versions they name are loaded, as in TF Serving, so a label never answers 404 while
its version is still loading. A version that fails to load is reported in the model status and
skipped; it is never served and never stops the server.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path

import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from serving.store.model_config import loaded_versions, read_labels
from serving.store.versions import SAVED_MODEL_FILE, list_versions

LOG = logging.getLogger(__name__)
VERSIONS_KEPT = 2
DEFAULT_SIGNATURE = "serving_default"


class NotFoundError(LookupError):
    """No such model, version or label; the REST layer answers 404."""


@dataclasses.dataclass
class LoadedVersion:
    version: int
    saved_model: object
    signature_defs: dict[str, meta_graph_pb2.SignatureDef]

    def signature(self, name: str):
        if name not in self.saved_model.signatures:
            raise NotFoundError(
                f"signature '{name}' not found; this model has {sorted(self.saved_model.signatures)}"
            )
        return self.saved_model.signatures[name]


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    version: int
    state: str  # AVAILABLE or END, as TF Serving names them
    error: str = ""


def _signature_defs(version_dir: Path) -> dict[str, meta_graph_pb2.SignatureDef]:
    saved_model = saved_model_pb2.SavedModel.FromString((version_dir / SAVED_MODEL_FILE).read_bytes())
    return {
        name: signature
        for name, signature in saved_model.meta_graphs[0].signature_def.items()
        if not name.startswith("__")
    }


class ModelRepository:
    def __init__(self, serving_root: Path, model_name: str, poll_seconds: float = 1.0):
        self.serving_root = serving_root
        self.model_name = model_name
        self.model_dir = serving_root / model_name
        self._poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._loaded: dict[int, LoadedVersion] = {}
        self._failed: dict[int, tuple[float, str]] = {}
        self._labels: dict[str, int] = {}
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="model-watcher", daemon=True)

    def start(self) -> ModelRepository:
        self.refresh()
        self._watcher.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._watcher.is_alive():
            self._watcher.join()

    def _watch(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            try:
                self.refresh()
            except Exception:
                LOG.exception("polling %s failed; will retry", self.model_dir)

    def refresh(self) -> None:
        """Loads the versions the live config lists (the newest two without one) and unloads the rest.

        A new version is loaded before any old one is unloaded, so requests never find none.
        """
        present = list_versions(self.model_dir)
        with self._lock:  # a removed broken version is no longer reported
            self._failed = {v: failure for v, failure in self._failed.items() if v in present}
        candidates = [v for v in present if not self._failed_unchanged(v)]
        listed = loaded_versions(self.serving_root, self.model_name)
        labels = read_labels(self.serving_root, self.model_name)
        wanted = [v for v in candidates if v in listed] if listed is not None else candidates[-VERSIONS_KEPT:]
        for version in wanted:
            if version not in self._loaded:
                self._load(version)
        with self._lock:
            for version in sorted(self._loaded):
                if version not in wanted:
                    LOG.info("unloading version %d of %s", version, self.model_name)
                    del self._loaded[version]
            self._labels = {label: v for label, v in labels.items() if v in self._loaded}

    def _failed_unchanged(self, version: int) -> bool:
        """A version that failed to load is retried only if its files changed since."""
        failure = self._failed.get(version)
        if failure is None:
            return False
        return (self.model_dir / str(version) / SAVED_MODEL_FILE).stat().st_mtime == failure[0]

    def _load(self, version: int) -> None:
        version_dir = self.model_dir / str(version)
        try:
            loaded = LoadedVersion(
                version, tf.saved_model.load(str(version_dir)), _signature_defs(version_dir)
            )
            loaded.signature(DEFAULT_SIGNATURE)
        except Exception as error:
            mtime = (version_dir / SAVED_MODEL_FILE).stat().st_mtime
            with self._lock:
                self._failed[version] = (mtime, f"{type(error).__name__}: {error}".splitlines()[0])
            LOG.error("version %d of %s failed to load and is skipped: %s", version, self.model_name, error)
            return
        with self._lock:
            self._loaded[version] = loaded
            self._failed.pop(version, None)
        LOG.info("version %d of %s is available", version, self.model_name)

    def get(self, version: int | None = None, label: str | None = None) -> LoadedVersion:
        """The version asked for, by number or label, or the newest available one."""
        with self._lock:
            if label is not None:
                if label not in self._labels:
                    raise NotFoundError(f"unknown version label '{label}' for model '{self.model_name}'")
                version = self._labels[label]
            if version is None:
                if not self._loaded:
                    raise NotFoundError(f"model '{self.model_name}' has no available version")
                return self._loaded[max(self._loaded)]
            if version not in self._loaded:
                raise NotFoundError(f"version {version} of model '{self.model_name}' is not available")
            return self._loaded[version]

    def status(self, version: int | None = None) -> list[VersionStatus]:
        with self._lock:
            statuses = [VersionStatus(v, "AVAILABLE") for v in sorted(self._loaded)]
            statuses += [VersionStatus(v, "END", error) for v, (_, error) in sorted(self._failed.items())]
        if version is not None:
            statuses = [s for s in statuses if s.version == version]
            if not statuses:
                raise NotFoundError(f"version {version} of model '{self.model_name}' is not available")
        return sorted(statuses, key=lambda s: s.version, reverse=True)
