"""TFX's StatisticsGen, reading the examples a batch at a time (see `batched_examples`).

The statistics are TFDV's, computed on the same rows: at a million rows the executor took 23 s
reading through Beam's Python TFRecord reader and takes 8 s this way (benchmarks/batched_reading.py).
"""

from __future__ import annotations

from tfx.components import StatisticsGen
from tfx.components.statistics_gen import executor as statistics_gen_executor
from tfx.dsl.components.base import executor_spec

from components.custom.batched_examples import batched_reading


class BatchedStatisticsGenExecutor(statistics_gen_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 - TFX API
        with batched_reading():
            super().Do(input_dict, output_dict, exec_properties)


class BatchedStatisticsGen(StatisticsGen):
    """TFX's StatisticsGen with the same parameters and outputs, reading in batches."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(BatchedStatisticsGenExecutor)
