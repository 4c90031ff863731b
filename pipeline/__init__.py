"""The product's commands and the TFX pipeline they run: config, data intake, the pipeline definition,
running it, retraining and reporting (docs/architecture.md).
"""
