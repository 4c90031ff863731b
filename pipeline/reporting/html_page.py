"""What every HTML report of the project shares: its style sheet and its tables.

Apart from the run report (html_report.py), which reads TFX and TFMA outputs, so that the
monitor's report can use them without importing TFX (seven of the ten seconds a monitor run
spent starting up).
"""

from __future__ import annotations

import html

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f3f3f3; } .bad { color: #b00020; font-weight: bold; } .good { color: #1b5e20; }
img { max-width: 100%; } pre { background: #f7f7f7; padding: 0.8em; white-space: pre-wrap; }
"""


def table(header: list[str], rows: list[list], bad_rows: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        f"<tr{' class=bad' if index in bad_rows else ''}>"
        + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row)
        + "</tr>"
        for index, row in enumerate(rows)
    )
    return f"<table><tr>{head}</tr>{body}</table>"
