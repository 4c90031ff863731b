"""`penguins predict` run as a user runs it: the console script, against a live `penguins serve`
or against nothing. Whatever goes wrong is one line on stderr and an exit code from docs/running.md:
2 for what the user gave, 1 for a server that is not there or refuses."""

from __future__ import annotations

import json
import re

import pytest

from pipeline.config.settings import DEFAULT_CONFIG
from pipeline.run.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tests.helpers import free_port, penguins, serve_published
from tests.test_signatures import PENGUINS as EXAMPLES

PENGUIN = EXAMPLES[1]
FLAGS = [f"--{name.replace('_', '-')}={value}" for name, value in PENGUIN.items()]
HEADER = ",".join(PENGUIN)
ROW = ",".join(str(value) for value in PENGUIN.values())


@pytest.fixture(scope="module")
def served(tmp_path_factory, exported_model_dir):
    with serve_published(tmp_path_factory.mktemp("predict-workspace"), exported_model_dir) as running:
        yield running[0]


def _one_line_failure(result, exit_code: int) -> str:
    assert result.returncode == exit_code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _predicted(*args: str) -> list:
    """The predictions printed with --json, less their request ids (each request gets its own)."""
    result = penguins("predict", "--json", *args, timeout=120)
    assert result.returncode == EXIT_OK, result.stderr
    return [{k: v for k, v in p.items() if k != "request_id"} for p in json.loads(result.stdout)]


def test_request_id_given_is_printed_and_one_is_made_without(served):
    result = penguins("predict", "--json", "--url", served.rest, "--request-id", "abc", *FLAGS, timeout=120)
    assert result.returncode == EXIT_OK, result.stderr
    assert [p["request_id"] for p in json.loads(result.stdout)] == ["abc"]
    result = penguins("predict", "--json", "--url", served.rest, *FLAGS, timeout=120)
    assert re.fullmatch(r"[0-9a-f]{32}", json.loads(result.stdout)[0]["request_id"]), result.stdout
    result = penguins("predict", "--protocol", "grpc", "--url", served.grpc, *FLAGS, timeout=120)
    assert result.returncode == EXIT_OK, result.stderr
    last = result.stdout.splitlines()[-1]
    assert re.fullmatch(r"Request id: [0-9a-f]{32}", last), result.stdout


@pytest.mark.parametrize(
    ("protocol", "url", "message"),
    [
        (
            "rest",
            "http://127.0.0.1:{port}",
            "no server answers at http://127.0.0.1:{port} (connection refused)",
        ),
        ("grpc", "127.0.0.1:{port}", "no gRPC server answers at 127.0.0.1:{port}"),
    ],
)
def test_no_server_is_one_line_and_exit_1(protocol, url, message):
    port = free_port()
    result = penguins("predict", "--protocol", protocol, "--url", url.format(port=port), *FLAGS, timeout=120)
    line = _one_line_failure(result, EXIT_FAILED)
    assert message.format(port=port) in line
    assert "penguins serve" in line


def test_url_without_scheme_is_taken_as_http(served):
    (prediction,) = _predicted("--url", f"127.0.0.1:{served.rest_port}", *FLAGS)
    assert prediction["species"] in prediction["probabilities"]


def test_grpc_port_given_as_the_rest_url_is_one_line_and_exit_1(served):
    result = penguins("predict", "--url", f"http://127.0.0.1:{served.grpc_port}", *FLAGS, timeout=120)
    line = _one_line_failure(result, EXIT_FAILED)
    assert f"http://127.0.0.1:{served.grpc_port} is no REST server" in line
    assert "gRPC port" in line


def test_file_with_a_byte_order_mark_and_extra_columns_predicts_as_the_flags_do(served, tmp_path):
    path = tmp_path / "penguins.csv"
    path.write_text(f"\ufeff{HEADER},species,year\n{ROW},Gentoo,2008\n", encoding="utf-8")
    url = ("--url", served.rest)
    assert _predicted(*url, "--file", str(path)) == _predicted(*url, *FLAGS)


def test_missing_value_tokens_are_the_configs(served, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(DEFAULT_CONFIG.read_text().replace('missing_values: ["NA"]', 'missing_values: ["?"]'))
    path = tmp_path / "penguins.csv"
    measured = {**PENGUIN, "body_mass_g": "?", "sex": "?"}
    path.write_text(f"{HEADER}\n{','.join(str(v) for v in measured.values())}\n")
    url = ("--url", served.rest, "--config", str(config))
    without = [flag for flag in FLAGS if not flag.startswith(("--body-mass-g", "--sex"))]
    assert _predicted(*url, "--file", str(path)) == _predicted(*url, *without)


# name: (files to write, arguments, what the one line must say); every case exits 2 before any request
USAGE_ERRORS = {
    "no example": ({}, [], "give the example as flags"),
    "flags and a file": ({"a.csv": f"{HEADER}\n{ROW}\n"}, ["--file", "a.csv", "--island", "Dream"],
                         "not both"),
    "unreadable file": ({}, ["--file", "absent.csv"], "cannot read {dir}/absent.csv"),
    "misspelled column": (
        {"a.csv": f"{HEADER.replace('bill_length_mm', 'bill_lenght_mm')}\n{ROW}\n"}, ["--file", "a.csv"],
        "{dir}/a.csv: missing column(s) ['bill_length_mm']; expected columns",
    ),
    "column named twice": ({"a.csv": f"{HEADER},sex\n{ROW},male\n"}, ["--file", "a.csv"],
                           "{dir}/a.csv: column 'sex' appears 2 times in the header"),
    "binary file": ({"a.csv": "\udc89PNG"}, ["--file", "a.csv"],
                    "{dir}/a.csv: not a UTF-8 text CSV file (byte 0x89 at offset 0)"),
    "header only": ({"a.csv": f"{HEADER}\n"}, ["--file", "a.csv"], "{dir}/a.csv holds no examples"),
    "empty file": ({"a.csv": ""}, ["--file", "a.csv"], "{dir}/a.csv: the file is empty"),
    "empty JSON list": ({"a.json": "[]"}, ["--file", "a.json"], "{dir}/a.json holds no examples"),
    "JSON item without a feature": (
        {"a.json": json.dumps([{k: v for k, v in PENGUIN.items() if k != "sex"}])}, ["--file", "a.json"],
        "{dir}/a.json, item 0 lacks the feature(s) ['sex']",
    ),
    "invalid JSON": ({"a.json": "[{"}, ["--file", "a.json"], "{dir}/a.json is not valid JSON"),
    "text for a number": (
        {"a.csv": f"{HEADER}\n{ROW}\n{ROW.replace('4500.0', 'heavy')}\n"}, ["--file", "a.csv"],
        "{dir}/a.csv, row 3, column 'body_mass_g': expected a finite number, got 'heavy'",
    ),
    "infinite number": ({}, ["--body-mass-g", "inf"], "--body-mass-g: expected a finite number, got inf"),
    "short row": ({"a.csv": f"{HEADER}\n{ROW[: ROW.rindex(',')]}\n"}, ["--file", "a.csv"],
                  "{dir}/a.csv, row 2: 5 fields where the header has 6"),
    "gRPC address with http://": ({}, ["--protocol", "grpc", "--url", "http://127.0.0.1:8500", *FLAGS],
                                  "a gRPC address is host:port"),
    "request id with a space": ({}, ["--request-id", "a b", *FLAGS], "a request id is 1 to 128 printable"),
    "REST port out of range": ({}, ["--url", "http://127.0.0.1:70000", *FLAGS],
                               "the port of 'http://127.0.0.1:70000' must be a port number from 1 to 65535"),
    "REST port not a number": ({}, ["--url", "127.0.0.1:abc", *FLAGS],
                               "the port of 'http://127.0.0.1:abc' must be a port number from 1 to 65535"),
    "gRPC port out of range": ({}, ["--protocol", "grpc", "--url", "127.0.0.1:70000", *FLAGS],
                               "the port of '127.0.0.1:70000' must be a port number from 1 to 65535"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_bad_arguments_are_one_line_and_exit_2(tmp_path, case):
    files, args, message = USAGE_ERRORS[case]
    for name, text in files.items():
        (tmp_path / name).write_text(text, errors="surrogateescape")  # "\udc89" writes byte 0x89
    args = [str(tmp_path / arg) if arg in files or arg.startswith("absent") else arg for arg in args]
    no_server = ["--url", f"http://127.0.0.1:{free_port()}"] if "--url" not in args else []
    result = penguins("predict", *no_server, *args, timeout=120)
    assert message.format(dir=tmp_path) in _one_line_failure(result, EXIT_USAGE)


def test_a_failure_with_json_is_one_outcome_object_on_stdout():
    url = "http://127.0.0.1:70000"
    result = penguins("predict", "--json", "--url", url, *FLAGS, timeout=120)
    line = _one_line_failure(result, EXIT_USAGE)
    assert json.loads(result.stdout) == {
        "command": "predict", "exit_code": EXIT_USAGE, "status": "usage_error", "error": line,
    }  # fmt: skip


def test_help_names_each_protocols_default_url():
    result = penguins("predict", "--help", timeout=120)
    assert result.returncode == EXIT_OK
    assert "{'rest'" not in result.stdout
    assert "http://127.0.0.1:8501 for rest" in " ".join(result.stdout.split())
