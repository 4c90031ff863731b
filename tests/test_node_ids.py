"""Every node of every pipeline takes its id from pipeline/definition/node_ids.py.

History, summaries, reports and `penguins versions` find nodes in MLMD by these ids, so a node
named anywhere else would silently vanish from them.
"""

from __future__ import annotations

from pipeline.config.settings import load_settings
from pipeline.config.workspace import Workspace
from pipeline.definition import node_ids
from pipeline.definition.pipelines import (
    create_pipeline,
    create_retraining_pipeline,
    create_span_reading_pipeline,
)
from pipeline.export.kfp_spec import kfp_pipeline

DECLARED = {value for name, value in vars(node_ids).items() if name.isupper()}


def test_every_node_id_is_declared_once(tmp_path):
    settings = load_settings(None)
    workspace = Workspace(tmp_path / "workspace").create()
    pipelines = {
        "run": create_pipeline(settings, tmp_path, workspace, []),
        "span reading": create_span_reading_pipeline(settings, workspace, 2, []),
        "retraining": create_retraining_pipeline(settings, workspace, [], 3, [2, 3], [1]),
        "kfp export": kfp_pipeline(settings, "gs://bucket/clean", "gs://bucket/root", "/models", []),
    }
    used = set()
    for name, built in pipelines.items():
        ids = [component.id for component in built.components]
        assert len(ids) == len(set(ids)), f"{name}: a node id is used twice: {ids}"
        undeclared = set(ids) - DECLARED
        assert not undeclared, f"{name}: {sorted(undeclared)} are not in node_ids.py"
        used.update(ids)
    assert used == DECLARED, f"declared but used by no pipeline: {sorted(DECLARED - used)}"
    assert len(DECLARED) == len([n for n in vars(node_ids) if n.isupper()]), "two constants share an id"
