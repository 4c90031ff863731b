"""A Pusher that publishes a blessed model atomically and never pushes the same model twice.

TFX's own Pusher copies file by file into the numbered directory a model server polls, so a
server can see a half-written version. This one stages and renames (see serving.store.versions). A
re-run whose blessed model is the one already served pushes nothing and says so, and a model
that `penguins rollback` took out of service is never pushed again.
"""

from __future__ import annotations

from pathlib import Path

from absl import logging
from tfx.components.pusher import component as pusher_component
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from serving.store import versions
from serving.store.model_config import choose_labels, render_live_config, served_version

ALREADY_SERVED_KEY = "already_served"
ROLLED_BACK_KEY = "rolled_back"


class AtomicPusherExecutor(pusher_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 - TFX API
        pushed_model = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY]
        )
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(pushed_model)
            return
        destination = proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
            pusher_pb2.PushDestination(),
        )
        model_dir = Path(destination.filesystem.base_directory)
        serving_root, model_name = model_dir.parent, model_dir.name
        source = Path(self.GetModelPath(input_dict))
        if versions.was_rolled_back(source, model_dir):
            logging.info("Model %s was rolled back out of service earlier; not pushed again.", source)
            pushed_model.set_int_custom_property(ROLLED_BACK_KEY, 1)
            self._MarkNotPushed(pushed_model)
            return
        served = served_version(serving_root, model_name)
        if served is not None and versions.same_saved_model(source, model_dir / str(served)):
            logging.info("Model %s is already served as version %d; nothing pushed.", source, served)
            pushed_model.set_int_custom_property(ALREADY_SERVED_KEY, 1)
            self._MarkPushed(pushed_model, str(model_dir / str(served)), str(served))
            return
        version = versions.publish(source, model_dir)
        render_live_config(serving_root, model_name, choose_labels(model_dir))
        logging.info("Model %s pushed as version %d.", source, version)
        self._MarkPushed(pushed_model, str(model_dir / str(version)), str(version))


class AtomicPusher(pusher_component.Pusher):
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(AtomicPusherExecutor)
