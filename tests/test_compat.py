"""The compatibility seam behaves the same on both stacks (TFX 1.16 / TF 2.16 and TFX 1.21 / TF 2.21)."""

from __future__ import annotations

import subprocess
import sys

from tensorflow_serving.apis import get_model_status_pb2

from serving.compat import message_to_dict_with_defaults, running_stack
from serving.store.config_protos import BatchingParameters
from tests.helpers import REPO


def test_messages_built_at_run_time_parse_their_text_format():
    parameters = BatchingParameters()
    parameters.max_batch_size.value = 32
    assert BatchingParameters.FromString(parameters.SerializeToString()).max_batch_size.value == 32


def test_json_of_a_message_keeps_proto_names_and_fields_at_their_defaults():
    status = get_model_status_pb2.ModelVersionStatus(version=3)
    assert message_to_dict_with_defaults(status) == {
        "version": "3",
        "state": "UNKNOWN",
    }


def test_tensorflow_is_imported_without_a_line_on_stderr_and_stderr_still_works_after():
    script = (
        "import sys\n"
        "from serving.compat import import_tensorflow_quietly\n"
        "import_tensorflow_quietly()\n"
        "assert 'tensorflow' in sys.modules\n"
        "print('after', file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "after\n"


def test_the_stack_names_the_tfx_and_python_versions_running():
    import tfx

    assert running_stack() == f"TFX {tfx.__version__} on Python {sys.version.split()[0]}"
