"""The one place where the two supported stacks differ (README, "Supported platforms").

The project runs unchanged on TFX 1.16 (Python 3.10, TF 2.16, protobuf 3.20, Beam 2.59) and on
TFX 1.21 (Python 3.11-3.13, TF 2.21, protobuf 6, Beam 2.77). Where their APIs differ, the code
calls a function here instead of testing versions itself, so that dropping the old stack later
means deleting branches in this file only.
"""

from __future__ import annotations

import importlib.metadata
import platform

from google.protobuf import message_factory


def message_class(descriptor):
    """The generated class for a message descriptor; protobuf 4.21 replaced GetPrototype."""
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(descriptor.file.pool).GetPrototype(descriptor)


def running_stack() -> str:
    """Which of the two stacks this process runs, for the run banner and bug reports."""
    return f"TFX {importlib.metadata.version('tfx')} on Python {platform.python_version()}"
