"""Retraining on newly arrived spans, on demand or on a schedule."""
