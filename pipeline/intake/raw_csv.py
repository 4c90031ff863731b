"""Reading raw CSV files, the one way every command reads them.

Cleaning, the year replay, late labels and the synthetic-data fit all read the user's raw files.
They accept the same files and refuse the same ones with the same messages: UTF-8 text, with or
without the byte-order mark Excel writes first, a header that names each column once (with a name
twice, which column is meant is anyone's guess), and rows that fit the header. Anything else stops
with the file named.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

# UTF-8, with the byte-order mark removed when there is one.
RAW_ENCODING = "utf-8-sig"


class DataError(ValueError):
    """Raw data that cannot be read or cleaned; the message names the file, and the row and column."""


class NoDataError(ValueError):
    """The data source names nothing to read: a path that does not exist or a folder without CSV files."""


def find_csv_files(source: Path) -> list[Path]:
    """A CSV file, or every *.csv file in a folder, in name order."""
    if source.is_file():
        return [source]
    if source.is_dir():
        files = sorted(p for p in source.glob("*.csv") if p.is_file())
        if files:
            return files
        raise NoDataError(f"{source}: the folder holds no .csv files; expected one or more raw CSV files")
    raise NoDataError(f"{source}: no such file or folder; expected a raw CSV file or a folder of them")


def _first_non_utf8_byte(path: Path) -> tuple[int, int]:
    """The first byte at which the file stops being UTF-8, and its offset.

    Together they tell a person what the file is (0x89 at offset 0 is a PNG, 0xff a UTF-16 text)
    or where a character in another encoding sits.
    """
    offset, pending = 0, b""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            data = pending + block
            try:
                _, used = codecs.utf_8_decode(data, "strict", False)
            except UnicodeDecodeError as error:
                return data[error.start], offset + error.start
            offset, pending = offset + used, data[used:]
    return pending[0], offset  # a character cut off by the end of the file


def raw_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Each record of a raw CSV file, header included, with the line it begins on.

    A quoted value may hold line breaks, so a record can end lines later; its first line is where
    a person finds it in an editor.
    """
    try:
        with path.open(newline="", encoding=RAW_ENCODING) as handle:
            reader = csv.reader(handle)
            first_line = 1
            for record in reader:
                if "\0" in "".join(record):  # Python 3.13's csv reader no longer refuses NUL itself
                    raise csv.Error("line contains NUL")
                yield first_line, record
                first_line = reader.line_num + 1
    except UnicodeDecodeError:
        byte, offset = _first_non_utf8_byte(path)
        raise DataError(
            f"{path}: not a UTF-8 text CSV file (byte 0x{byte:02x} at offset {offset}); "
            "expected a raw CSV file saved as UTF-8"
        ) from None
    except csv.Error as error:
        raise DataError(
            f"{path}, row {reader.line_num}: not readable as CSV ({error}); expected a raw CSV file"
        ) from None


def read_header(path: Path, records: Iterator[tuple[int, list[str]]], required: Sequence[str]) -> list[str]:
    """The column names of the header, the first record; each named once, `required` among them."""
    try:
        _, header = next(records)
    except StopIteration:
        raise DataError(
            f"{path}: the file is empty; expected a header row naming the columns {list(required)}"
        ) from None
    header = [name.strip() for name in header]
    for name in dict.fromkeys(header):
        places = [str(i + 1) for i, other in enumerate(header) if other == name]
        if name and len(places) > 1:
            raise DataError(
                f"{path}: column '{name}' appears {len(places)} times in the header (columns "
                f"{', '.join(places)}); expected each column name once"
            )
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; expected columns {list(required)}, found {header}"
        )
    return header


def data_records(
    path: Path, records: Iterator[tuple[int, list[str]]], header: Sequence[str]
) -> Iterator[tuple[int, list[str]]]:
    """The records below the header, blank lines left out; a record that does not fit the header stops.

    A field beyond the header's columns belongs to no column, so reading on would drop its value
    unseen; it is mostly a stray comma or an unquoted comma in a value, which shifts the row. A value
    spanning lines is mostly a quote left open, which swallows the rows after it, and a number read
    from it ("39\n") would hide that. Neither row says what its writer meant, so neither is guessed.
    """
    for line, record in records:
        if not record:
            continue
        if len(record) > len(header):
            raise DataError(
                f"{path}, row {line}: {len(record)} fields where the header has {len(header)}; expected "
                "at most one field per column of the header (a stray comma, or a comma in an unquoted value?)"
            )
        text = "".join(record)  # one search per record; the column is looked for only on a hit
        if "\n" in text or "\r" in text:
            column, value = next(
                (column, value)
                for column, value in zip(header, record, strict=False)
                if "\n" in value or "\r" in value
            )
            raise DataError(
                f"{path}, row {line}, column '{column}': {value!r} spans several lines; "
                "expected a value on one line (a quote left open?)"
            )
        yield line, record
