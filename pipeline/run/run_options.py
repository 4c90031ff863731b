"""How a command asked for its pipeline to run: the orchestrator, the Beam options, the cache.

Built once from the command line (`pipeline/cli/options.py`), so that `run` and `retrain` take
the same choices the same way.
"""

from __future__ import annotations

import dataclasses

from pipeline.run.beam_options import BeamChoice, resolve_beam_args


@dataclasses.dataclass(frozen=True)
class RunOptions:
    runner: str  # "local" or "beam", the TFX orchestrator
    beam_preset: str  # a preset of pipeline/configs/beam.yaml, or "auto"
    beam_args: tuple[str, ...] = ()  # --beam-arg options, which replace the preset's
    enable_cache: bool = True

    def beam(self, data_rows: int | None) -> BeamChoice:
        return resolve_beam_args(self.beam_preset, self.beam_args, data_rows)
