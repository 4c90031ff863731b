"""CVE-2023-47248: pyarrow 10 (capped by TFX) unpickles extension types found in Arrow IPC data.

Every module that starts Arrow work in a pipeline process imports pyarrow-hotfix, which refuses
that; these tests read a crafted Arrow stream in a fresh process after importing each of them.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

_READ_CRAFTED_STREAM = """
import pyarrow as pa

class Pickled(pa.PyExtensionType):
    def __init__(self):
        super().__init__(pa.int64())

    def __reduce__(self):
        return Pickled, ()

table = pa.table({"x": pa.ExtensionArray.from_storage(Pickled(), pa.array([1, 2]))})
sink = pa.BufferOutputStream()
with pa.ipc.new_stream(sink, table.schema) as writer:
    writer.write_table(table)
import {module}
try:
    pa.ipc.open_stream(sink.getvalue()).read_all()
except RuntimeError as error:
    print(str(error).splitlines()[0])
else:
    print("unpickled")
"""


@pytest.mark.parametrize("module", ["pipeline.definition.pipelines", "components.custom.csv_example_gen"])
def test_importing_pipeline_code_refuses_pickled_arrow_extension_types(module):
    result = subprocess.run(
        [sys.executable, "-c", _READ_CRAFTED_STREAM.replace("{module}", module)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("Disallowed deserialization of 'arrow.py_extension_type':")
