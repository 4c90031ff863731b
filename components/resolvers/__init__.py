"""Resolver strategies: the span window, the previous span and the served model."""
