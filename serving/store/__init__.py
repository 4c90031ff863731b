"""The model store: version folders, models.config and its labels, rollback, atomic files."""
