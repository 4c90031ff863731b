"""What the sampling Evaluator records on its evaluation artifact, in a module light enough for readers.

`penguins history` and the run summary read these; importing them from the Evaluator itself would
load TFX's Evaluator executor (tfx_bsl, Beam) into every command that only reads MLMD.
"""

EVALUATED_EXAMPLES_KEY = "evaluated_examples"  # the examples the evaluation was computed on
SPLIT_EXAMPLES_KEY = "split_examples"  # the examples in the eval split
# On the span gate's blessing (components/custom/span_gate.py): accuracy per span, and why it refused.
SPAN_EVALUATION_KEY = "span_evaluation"
GATE_REASONS_KEY = "gate_reasons"
