"""A resolver strategy whose baseline is the model actually served, not the latest blessed one.

TFX's LatestBlessedModelStrategy compares a candidate with the newest model the Evaluator ever
blessed. After `penguins rollback` that model is no longer in production, and a candidate only
as good as the rolled-back model would pass. This strategy finds the Model artifact whose
SavedModel (by TensorFlow's fingerprint) is the version served, the one labelled `canary`.
With nothing served, there is no baseline and only the absolute accuracy bar applies.
"""

from __future__ import annotations

from pathlib import Path

from tfx import types
from tfx.dsl.components.common import resolver
from tfx.utils import path_utils

from serving.store.model_config import served_version
from serving.store.versions import same_saved_model


class ServedModelStrategy(resolver.ResolverStrategy):
    def __init__(self, model_dir: str):
        self._model_dir = Path(model_dir)

    def resolve_artifacts(self, store, input_dict: dict[str, list[types.Artifact]]):
        served = served_version(self._model_dir.parent, self._model_dir.name)
        if served is None:
            return {"model": []}
        served_path = self._model_dir / str(served)
        for model in sorted(input_dict["model"], key=lambda artifact: artifact.id, reverse=True):
            if same_saved_model(Path(path_utils.serving_model_path(model.uri)), served_path):
                return {"model": [model]}
        return {"model": []}
