"""Placeholder until the Spark commands are known."""

PROCESS_NAMES = ("master", "worker", "job-server", "worker-pool")


def web_ui(settings):
    return f"http://127.0.0.1:{settings.engines['spark'].ports['ui']}"


def services(settings):
    raise NotImplementedError
