"""`penguins serve --upstream URL --wait-for-upstream`: the front answers nothing until its upstream
serves the model.

In compose the front starts beside TF Serving, which takes seconds to load the model. Compose's
`depends_on: condition: service_healthy` is meant to hold the front back meanwhile, but an engine
that runs no healthchecks (podman without systemd) ignores it, and a front that answered at once
would answer 503s, and remember no version, until the model loads. So the front waits for the
upstream's model status itself, whatever the engine, saying what it waits for and why: its ports
are already listening (a taken port is still reported at once), and a request sent meanwhile is
answered once the model is there. A stop (SIGTERM, Ctrl-C) ends the wait at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

REPORT_EVERY_SECONDS = 30.0
STATUS_TIMEOUT_SECONDS = 5.0


def _not_ready(http: httpx.Client, status_path: str) -> str | None:
    """Why the upstream does not serve the model yet, or None when a version of it is AVAILABLE."""
    try:
        response = http.get(status_path)
    except httpx.HTTPError as error:
        return f"cannot be reached: {error or type(error).__name__}"
    if response.status_code != 200:
        return f"answers {response.status_code} to {status_path}"
    try:
        states = [status["state"] for status in response.json()["model_version_status"]]
    except (ValueError, TypeError, KeyError):
        return f"gives no model status at {status_path}"
    if "AVAILABLE" in states:
        return None
    return f"no version AVAILABLE yet (states: {', '.join(states) or 'none'})"


def wait_for_model(
    url: str,
    model_name: str,
    poll_seconds: float,
    stop_requested: threading.Event,
    say: Callable[[str], None],
) -> bool:
    """Until the upstream at `url` has a version of `model_name` AVAILABLE (True) or a stop is
    requested (False); one line when the wait starts, then one every REPORT_EVERY_SECONDS."""
    status_path = f"/v1/models/{model_name}"
    started = time.monotonic()
    reported = None
    with httpx.Client(base_url=url, timeout=STATUS_TIMEOUT_SECONDS) as http:
        while (reason := _not_ready(http, status_path)) is not None:
            waited = time.monotonic() - started
            if reported is None:
                say(f"Waiting for the upstream at {url} to serve model '{model_name}': {reason}.")
                reported = waited
            elif waited - reported >= REPORT_EVERY_SECONDS:
                say(f"Still waiting for the upstream at {url} after {waited:.0f} s: {reason}.")
                reported = waited
            if stop_requested.wait(poll_seconds):
                return False
    if reported is not None:
        say(f"The upstream at {url} serves model '{model_name}' (waited {time.monotonic() - started:.0f} s).")
    return True
