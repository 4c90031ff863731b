"""Dataset-agnostic orchestration: config, the TFX pipeline definition, running and reporting."""
