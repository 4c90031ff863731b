"""Infers a schema from cleaned data with TFDV, as a starting point for a human review.

The committed schema stays the authority; an inferred one shows what new data looks like, so a
reviewer can widen a domain or a range on purpose rather than by accident.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow_data_validation as tfdv

from pipeline.intake.sources import CLEAN_FILE

TRAINING, SERVING = "TRAINING", "SERVING"


def infer_schema(clean_dir: Path, label: str, out: Path) -> None:
    statistics = tfdv.generate_statistics_from_csv(str(clean_dir / CLEAN_FILE))
    schema = tfdv.infer_schema(statistics)
    schema.default_environment.extend([TRAINING, SERVING])
    tfdv.get_feature(schema, label).not_in_environment.append(SERVING)
    out.parent.mkdir(parents=True, exist_ok=True)
    tfdv.write_schema_text(schema, str(out))
