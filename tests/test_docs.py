"""The docs are tested (docs/development.md, "Tested docs").

README.md and docs/*.md are read as Markdown. Every fenced shell block (```sh, bash, shell,
console or zsh) carries a marker on its info line:

- ```` ```sh test ````: runnable. `test_runnable_blocks` runs a page's runnable blocks in order, each
  with `bash -euo pipefail` and a time limit, in a fresh copy of the checkout whose `.venv` is this
  one's (so `make run` there builds nothing and writes into the copy's own `./workspace`).
- ```` ```sh no-test REASON ```` (or the reason as the block's first line, a `# ` comment): shown,
  not run; the reason says why (it needs a container engine, a cluster, Dataflow, or minutes).

A shell block with neither marker fails `test_shell_blocks_are_marked`, so that no command escapes.
Besides: every relative link resolves, to a file and to a heading for `#anchor`s; every `penguins`
command line in code (blocks and `inline` spans) names subcommands and flags that the real parser
(pipeline/cli/main.py: build_parser) has; and every `make TARGET` is a target of the Makefile.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELLS = {"sh", "bash", "shell", "console", "zsh"}
RUN, NO_RUN = "test", "no-test"
BLOCK_SECONDS = 300

# Pages whose main example cannot run where the tests run, and why.
WITHOUT_RUNNABLE_BLOCK = {
    "docs/README.md": "an index of the pages",
    "docs/containers.md": "every example needs a container engine; tests/test_container_run.py runs them",
}

# Options of other tools that the docs name alone in `inline code` (Beam's are told by their
# underscores); any other option named alone must be a `penguins` command's.
OTHER_TOOLS_FLAGS = {
    "--experiments",  # Beam's
    "--mysql-native-password",  # the MySQL server's
    "--keep",  # docker/build-tools/unused-packages
    "--reference",  # benchmarks/pipeline_speed.py
    "--sizes",  # benchmarks/scale.py
    "--batch-size",
    "--epochs",
}


def _rel(page: Path) -> str:
    return page.relative_to(REPO).as_posix()


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    marker: str
    reason: str
    text: str

    def where(self) -> str:
        return f"{_rel(self.page)}:{self.line}"


FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


def fenced_blocks(page: Path) -> list[Block]:
    blocks, lines, i = [], page.read_text().splitlines(), 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        words = opening["info"].split(None, 2)
        lang = words[0].lower() if words else ""
        marker = words[1] if len(words) > 1 else ""
        reason = words[2].strip() if len(words) > 2 else ""
        body, j = [], i + 1
        while j < len(lines) and not re.match(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[j]):
            line = lines[j]
            body.append(line[indent:] if line[:indent].strip() == "" else line)
            j += 1
        text = "\n".join(body) + "\n"
        if marker == NO_RUN and not reason and body and body[0].lstrip().startswith("#"):
            reason = body[0].lstrip().lstrip("#").strip()
        blocks.append(Block(page, i + 1, lang, marker, reason, text))
        i = j + 1
    return blocks


def shell_blocks(page: Path) -> list[Block]:
    return [block for block in fenced_blocks(page) if block.lang in SHELLS]


def prose(page: Path) -> str:
    """The page without its fenced blocks (each line blanked, so that line numbers stay)."""
    lines = page.read_text().splitlines()
    for block in fenced_blocks(page):
        end = block.line + block.text.count("\n")
        for k in range(block.line - 1, min(end + 1, len(lines))):
            lines[k] = ""
    return "\n".join(lines)


def inline_code(text: str) -> list[str]:
    return [match[2] for match in re.finditer(r"(`+)(.+?)\1", text, flags=re.S)]


# --- markers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_shell_blocks_are_marked(page):
    """Each shell block is `sh test` (run) or `sh no-test REASON` (shown only, with the reason)."""
    wrong = []
    for block in shell_blocks(page):
        if block.marker == RUN:
            continue
        if block.marker != NO_RUN:
            wrong.append(
                f"{block.where()}: ```{block.lang} needs `test` or `no-test REASON` on its info line"
            )
        elif len(block.reason.split()) < 2:
            wrong.append(f"{block.where()}: a `no-test` block says why, on its info line or first # line")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_each_page_has_a_runnable_example(page):
    runnable = [block for block in shell_blocks(page) if block.marker == RUN]
    if _rel(page) in WITHOUT_RUNNABLE_BLOCK:
        assert not runnable, f"{_rel(page)} now has a runnable block: take it out of WITHOUT_RUNNABLE_BLOCK"
    else:
        assert runnable, f"{_rel(page)}: mark its main example ```sh test"


def test_docs_folder_has_the_pages():
    """The pages `penguins --help` and the README point to: renaming one breaks those pointers."""
    expected = {
        "README.md", "running.md", "serving.md", "monitoring.md", "containers.md", "scaling.md",
        "architecture.md", "benchmarks.md", "platforms.md", "development.md",
    }  # fmt: skip
    assert expected <= {page.name for page in (REPO / "docs").glob("*.md")}


def _help_texts(parser: argparse.ArgumentParser) -> list[str]:
    texts = [parser.description or "", parser.epilog or "", parser.usage or ""]
    texts += [str(action.help or "") for action in parser._actions]
    for child in _subparsers(parser).values():
        texts += _help_texts(child)
    return texts


def test_docs_pages_named_in_the_help_exist(parser):
    """Every `docs/PAGE.md` that `penguins --help` or a subcommand's help names exists."""
    named = {page for text in _help_texts(parser) for page in re.findall(r"docs/[\w.-]+\.md", text)}
    assert not {page for page in named if not (REPO / page).is_file()}


# --- links -----------------------------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def github_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the page's headings: lower case, punctuation dropped, spaces to -."""
    anchors, seen = set(), {}
    for line in prose(page).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading[1])  # a link in a heading: its text
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"(`+).+?\1", "", prose(page), flags=re.S)
    return [
        target for target in LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.I)
    ]


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_relative_links_resolve(page):
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no {file.relative_to(REPO) if file.is_relative_to(REPO) else file}")
        elif anchor and file.suffix == ".md" and anchor not in github_anchors(file):
            broken.append(f"{target}: no heading with anchor #{anchor} in {_rel(file)}")
    assert not broken, f"{_rel(page)}: " + "; ".join(broken)


def test_the_link_check_sees_links():
    """The README links to every page of docs/, so an empty list of links would be a parsing fault."""
    linked = {Path(target.partition("#")[0]).name for target in relative_links(REPO / "README.md")}
    assert {page.name for page in PAGES[1:]} - {"README.md"} <= linked


# --- penguins commands and make targets named in the docs ------------------------------------

PENGUINS = re.compile(r"(?:^|(?<=[\s(`\"]))(?:\.venv/bin/|\S*/bin/)?penguins(?=\s|$)")
MAKE = re.compile(r"(?:^|(?<=[\s(`\"]))make\s+([a-z][\w-]*)")
# An `inline` make command (not a message that begins with "make"): targets and VAR=value only.
MAKE_SPAN = re.compile(r"make(?:\s+[a-z][\w-]*)+(?:\s+[A-Z_]+=(?:\"[^\"]*\"|'[^']*'|\S+))*")
# Where a command ends: a pipe, a list, a redirection, a comment, a subshell's end.
COMMAND_END = re.compile(r"\s\|\s|\|\||&&|;|\s&(?:\s|$)|\s[0-9]?>|\s<\s|\s#|\)|$")


def code_snippets(page: Path) -> list[tuple[str, str, bool]]:
    """(where, text, in_block): every inline code span, and every line of a shell block (continuations
    joined) without its comment, whose own `inline code` spans count as inline ones."""
    found = [(f"{_rel(page)} `{span}`", span, False) for span in inline_code(prose(page))]
    for block in shell_blocks(page):
        for number, line in enumerate(block.text.replace("\\\n", " ").splitlines()):
            where = f"{block.where()}+{number + 1}"
            comment_start = re.search(r"(?:^|\s)#", line)
            command, comment = (
                (line[: comment_start.start()], line[comment_start.end() :]) if comment_start else (line, "")
            )
            found.append((where, command, True))
            found.extend((f"{where} `{span}`", span, False) for span in inline_code(comment))
    return found


def _words(text: str) -> list[str]:
    try:
        words = shlex.split(text, comments=False)
    except ValueError:  # an unbalanced quote in prose
        words = text.split()
    return [w.strip("[]") for w in words if w.strip("[]") and w not in {"...", "…"}]


def penguins_command_lines(text: str) -> list[list[str]]:
    """The arguments after each `penguins` in the text, and those `make run|serve|pipeline-container
    ARGS="..."` passes on, up to the end of the command."""
    lines = []
    for match in PENGUINS.finditer(text):
        rest = text[match.end() :]
        lines.append(_words(rest[: COMMAND_END.search(rest).start()]))
    for match in re.finditer(r"make (run|serve|pipeline-container)\b[^`\n]*?ARGS=(\"[^\"]*\"|'[^']*')", text):
        args = _words(match[2])[0] if _words(match[2]) else ""
        lines.append(([] if match[1] == "pipeline-container" else [match[1]]) + _words(args))
    return lines


def _subparsers(parser: argparse.ArgumentParser) -> dict:
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(found[0].choices) if found else {}


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {option: action for action in parser._actions for option in action.option_strings}


def command_problem(root: argparse.ArgumentParser, words: list[str]) -> str | None:
    """What in `penguins WORDS` the parser does not have, or None. Placeholders (`VERSION`, `DIR`)
    are values or positionals, which are not checked; `up|down` is checked as two choices."""
    parser, line, skip = root, ["penguins"], False
    for word in words:
        if skip:
            skip = False
            continue
        if word.startswith("-") and len(word) > 1:
            flag = word.split("=", 1)[0]
            action = _options(parser).get(flag)
            if action is None:
                return f"`{' '.join(line)}` has no option {flag}"
            skip = "=" not in word and action.nargs != 0
            continue
        children = _subparsers(parser)
        if not children:
            continue
        if re.fullmatch(r"[A-Z][A-Z0-9_]*", word):  # `penguins COMMAND --help`: a placeholder
            return None
        if word[0].isdigit():  # output such as `penguins 0.1.0 (TFX 1.16.0, ...)`, not a command
            return None
        names = word.split("|")
        missing = [name for name in names if name not in children]
        if missing:
            return f"`{' '.join(line)}` has no subcommand {missing[0]!r} (it has: {', '.join(children)})"
        parser = children[names[0]]
        line.append(word)
    return None


@pytest.fixture(scope="module")
def parser():
    from pipeline.cli.main import build_parser

    return build_parser([])


def _all_flags(root: argparse.ArgumentParser) -> set[str]:
    flags = set(_options(root))
    for child in _subparsers(root).values():
        flags |= _all_flags(child)
    return flags


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_penguins_commands_in_the_docs_exist(page, parser):
    """`penguins SUBCOMMAND --flag` in code, and a `--flag` alone in `inline code`, are the parser's."""
    problems, flags = [], _all_flags(parser)
    for where, text, _ in code_snippets(page):
        for words in penguins_command_lines(text):
            problem = command_problem(parser, words)
            if problem:
                problems.append(f"{where}: {problem}")
        alone = re.fullmatch(r"(--[a-z][a-z0-9-]*)(?:[= ].*)?", text.strip(), flags=re.S)
        if alone and "_" not in text.split()[0] and alone[1] not in flags | OTHER_TOOLS_FLAGS:
            problems.append(f"{where}: no penguins command has the option {alone[1]}")
    assert not problems, "\n".join(problems)


def test_the_command_check_finds_what_is_wrong(parser):
    assert command_problem(parser, ["run", "--beam-preset", "flink", "--json"]) is None
    assert command_problem(parser, ["cluster", "up|down|status", "flink|spark"]) is None
    assert command_problem(parser, ["labels", "remove", "BATCH", "--json"]) is None
    assert "no option --beam" in command_problem(parser, ["run", "--beam", "flink"])
    assert "no subcommand 'retrian'" in command_problem(parser, ["retrian"])
    assert "no subcommand 'stop'" in command_problem(parser, ["cluster", "up|stop"])
    assert penguins_command_lines('make run ARGS="--beam-preset flink"') == [
        ["run", "--beam-preset", "flink"]
    ]
    assert penguins_command_lines(".venv/bin/penguins history | head  # newest") == [["history"]]
    assert penguins_command_lines("the 'penguins' model in penguins.yaml") == []


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-zA-Z][\w-]*)\s*:(?!=)", (REPO / "Makefile").read_text(), flags=re.M))


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_make_targets_in_the_docs_exist(page):
    targets = make_targets()
    missing = {
        f"{where}: make {target}"
        for where, text, in_block in code_snippets(page)
        if in_block or MAKE_SPAN.fullmatch(text.strip())
        for target in MAKE.findall(text)
        if target not in targets
    }
    assert not missing, "\n".join(sorted(missing))


# --- running the runnable blocks -------------------------------------------------------------

RUNNABLE_PAGES = [page for page in PAGES if any(b.marker == RUN for b in shell_blocks(page))]
IGNORED_IN_COPY = shutil.ignore_patterns(
    ".venv", ".git", "workspace", "__pycache__", ".pytest_cache", ".ruff_cache", "secrets", "*.egg-info"
)


def fresh_checkout(into: Path) -> Path:
    """A copy of the checkout (times kept, so that make sees .venv as up to date), with this .venv."""
    checkout = into / "checkout"
    shutil.copytree(REPO, checkout, ignore=IGNORED_IN_COPY, symlinks=True)
    (checkout / ".venv").symlink_to(REPO / ".venv")
    return checkout


def block_environment(home: Path) -> dict[str, str]:
    """This environment, with .venv/bin first on PATH and nothing that would send a doc's commands
    elsewhere: no make variables from an outer `make test ARGS=...`, no shared metadata store, the
    stack .venv was built for (so that make never rebuilds it)."""
    drop = {
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
        "ARGS",
        "PENGUINS_METADATA",
        "PENGUINS_METADATA_PASSWORD_FILE",
    }
    env = {name: value for name, value in os.environ.items() if name not in drop}
    env["PATH"] = f"{REPO / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["STACK"] = (REPO / ".venv" / ".installed-from-lock").read_text().split()[0]
    env["PENGUINS_CLUSTER_STATE"] = str(home / "cluster-state")
    return env


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def run_block(block: Block, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The block in its own process group, killed whole when the block's shell ends (so a server it
    left running goes too). Output goes to files, which a process left in the background cannot
    hold open the way it would hold a pipe."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", block.text],
            cwd=cwd,
            env=env,
            stdout=stdout,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
        try:
            returncode = process.wait(timeout=BLOCK_SECONDS)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        stdout.seek(0)
        stderr.seek(0)
        out, err = stdout.read(), stderr.read()
    if returncode is None:
        returncode, err = -9, err + f"\n[killed after the time limit of {BLOCK_SECONDS} s]"
    return subprocess.CompletedProcess(block.text, returncode, out, err)


@pytest.mark.e2e
@pytest.mark.one_stack
@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=_rel)
def test_runnable_blocks(page, tmp_path):
    """A page's `sh test` blocks, in order, on a fresh copy of the checkout and a fresh workspace."""
    if not (REPO / ".venv" / ".installed-from-lock").exists():
        pytest.skip("the doc examples run with this checkout's .venv, which `make install` builds")
    blocks = [block for block in shell_blocks(page) if block.marker == RUN]
    if any("penguins serve" in block.text for block in blocks):
        taken = [port for port in (8500, 8501) if _port_taken(port)]
        if taken:
            pytest.skip(f"the serving examples use the default ports, and {taken} are taken here")
    checkout, env = fresh_checkout(tmp_path), block_environment(tmp_path)
    for block in blocks:
        result = run_block(block, checkout, env)
        assert result.returncode == 0, (
            f"{block.where()} exited {result.returncode}:\n{block.text}\n"
            f"--- stdout (end)\n{result.stdout[-3000:]}\n--- stderr (end)\n{result.stderr[-3000:]}"
        )
    assert (checkout / ".venv").is_symlink(), "a block rebuilt .venv in the copy"
