"""Running a built pipeline: the orchestrator, progress lines, locks, signals and outcomes."""
