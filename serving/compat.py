"""The one place where the two supported stacks differ (docs/platforms.md).

The project runs unchanged on TFX 1.16 (Python 3.10, TF 2.16, protobuf 3.20, Beam 2.59) and on
TFX 1.21 (Python 3.11-3.13, TF 2.21, protobuf 6, Beam 2.77). Where their APIs differ, the code
calls a function here instead of testing versions itself, so that dropping the old stack later
means deleting branches in this file only.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import os
import platform
import sys

from google.protobuf import json_format, message_factory


def message_class(descriptor):
    """The generated class for a message descriptor; protobuf 4.21 replaced GetPrototype."""
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(descriptor.file.pool).GetPrototype(descriptor)


def running_stack() -> str:
    """Which of the two stacks this process runs, for the run banner and bug reports."""
    return f"TFX {importlib.metadata.version('tfx')} on Python {platform.python_version()}"


def message_to_dict_with_defaults(message) -> dict:
    """A message as a dict with proto field names and fields at their defaults included."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True, **_PRINT_DEFAULTS)


# protobuf 5 renamed `including_default_value_fields` to `always_print_fields_with_no_presence`.
_PRINT_DEFAULTS = {
    "always_print_fields_with_no_presence"
    if "always_print_fields_with_no_presence" in inspect.signature(json_format.MessageToDict).parameters
    else "including_default_value_fields": True
}


def import_tensorflow_quietly() -> None:
    """Imports TensorFlow without its start-up lines on stderr, for commands that print to users.

    TF 2.16 honours TF_CPP_MIN_LOG_LEVEL; TF 2.21 logs its start-up through absl before reading
    it, so file descriptor 2 is pointed at /dev/null while the libraries load. Python errors
    still propagate once it is restored.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
