"""The TFX pipelines: their nodes and ids, the evaluation config and cache keys."""
