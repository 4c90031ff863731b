"""The id of every node of the pipelines, in one place.

Builders set them with `.with_id(...)`, and readers of MLMD (summary, history, report, versions)
look nodes up by them, so renaming a node here renames it everywhere.
"""

EXAMPLE_GEN = "CsvExampleGen"
SPAN_EXAMPLE_GEN = "SpanExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "ImportSchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
PREVIOUS_SPAN_RESOLVER = "previous_span_resolver"
DRIFT_CHECK = "DriftCheck"
VALIDATION_GATE = "ValidationGate"
SPAN_WINDOW_RESOLVER = "span_window_resolver"
TRANSFORM = "Transform"
TRAINER = "Trainer"
BASELINE_RESOLVER = "served_model_resolver"
LATEST_BLESSED_RESOLVER = "latest_blessed_model_resolver"  # the baseline of the KFP export
EVALUATOR = "Evaluator"
SPAN_GATE = "SpanGate"
PUSHER = "AtomicPusher"
