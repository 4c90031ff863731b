"""Stops TFX from repackaging its own installation before every Beam-powered component."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def workers_use_this_environment():
    """Within this block, Beam-powered components pass their Beam arguments on unchanged.

    Unless the arguments name a dependency (--extra_package and the like), TFX copies its whole
    installation to a new temporary directory and builds an sdist of it there, for every
    Beam-powered component: about 2 s and 49 MB each time, never deleted, so every run left
    about 200 MB in /tmp and a day of test runs filled the disk. No runner this project uses
    needs that package, and it could not serve one that did: it holds TFX without this
    project's modules, which the workers import. Local workers share this environment,
    LOOPBACK workers are this process, and the dataflow preset ships the project's wheel.
    """
    from tfx.utils import dependency_utils  # here, so that importing the runner starts no TFX

    repackage = dependency_utils.make_beam_dependency_flags
    dependency_utils.make_beam_dependency_flags = list
    try:
        yield
    finally:
        dependency_utils.make_beam_dependency_flags = repackage
