"""Data intake: raw CSV files, cleaning, spans, synthetic data and schema inference."""
