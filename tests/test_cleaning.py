import csv

import pytest

from components.features import FeatureSpec
from pipeline.intake.cleaning import content_digest, fingerprint, write_clean_csv
from pipeline.intake.raw_csv import DataError, NoDataError, find_csv_files

SPEC = FeatureSpec(label="species", numeric=("body_mass_g", "bill_length_mm"), categorical=("island", "sex"))
HEADER = "species,island,bill_length_mm,body_mass_g,sex,year\n"


def _clean(tmp_path, text, name="raw.csv"):
    raw = tmp_path / name
    raw.write_text(text)
    out = tmp_path / "clean" / "data.csv"
    rows = write_clean_csv([raw], out, SPEC)
    with out.open(newline="") as handle:
        return rows, list(csv.DictReader(handle))


def test_missing_markers_become_empty_and_integers_become_floats(tmp_path):
    rows, cleaned = _clean(
        tmp_path, HEADER + "Adelie,Torgersen,39.1,3750,male,2007\nAdelie,Dream,NA,NA,NA,2007\n"
    )
    assert rows == 2
    assert cleaned[0] == {
        "species": "Adelie",
        "body_mass_g": "3750.0",
        "bill_length_mm": "39.1",
        "island": "Torgersen",
        "sex": "male",
    }
    assert cleaned[1]["body_mass_g"] == "" and cleaned[1]["sex"] == "" and cleaned[1]["island"] == "Dream"
    assert "year" not in cleaned[0]


def test_missing_column_is_named(tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_text("species,island,bill_length_mm,sex\nAdelie,Dream,39.1,male\n")
    with pytest.raises(DataError) as error:
        write_clean_csv([raw], tmp_path / "out.csv", SPEC)
    assert "missing column(s) ['body_mass_g']" in str(error.value)
    assert str(raw) in str(error.value)


def test_empty_file_is_rejected(tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_text("")
    with pytest.raises(DataError, match="the file is empty; expected a header row"):
        write_clean_csv([raw], tmp_path / "out.csv", SPEC)


def test_header_without_rows_is_rejected(tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_text(HEADER)
    with pytest.raises(DataError, match="header but no data rows"):
        write_clean_csv([raw], tmp_path / "out.csv", SPEC)


@pytest.mark.parametrize("value", ["heavy", "nan", "inf", "3,750"])
def test_non_numeric_value_names_row_column_and_value(tmp_path, value):
    raw = tmp_path / "raw.csv"
    raw.write_text(HEADER + "Adelie,Dream,39.1,3750,male,2007\n" + f'Adelie,Dream,39.1,"{value}",male,2007\n')
    with pytest.raises(DataError) as error:
        write_clean_csv([raw], tmp_path / "out.csv", SPEC)
    message = str(error.value)
    assert f"{raw}, row 3, column 'body_mass_g': {value!r} is not a number" in message


@pytest.mark.parametrize(
    "row, column, value",
    [
        ('Adelie,"Dream\nIsland",39.1,3750,male,2007', "island", "'Dream\\nIsland'"),
        ('Adelie,Dream,"39\n",3750,male,2007', "bill_length_mm", "'39\\n'"),  # a number that would read as 39
        ('Adelie,Dream,39.1,3750,male,"2007\r\n"', "year", "'2007\\r\\n'"),  # a column cleaning drops
    ],
)
def test_value_with_a_line_break_names_the_row_it_begins_on_and_its_column(tmp_path, row, column, value):
    raw = tmp_path / "raw.csv"
    raw.write_text(HEADER + "Adelie,Dream,39.1,3750,male,2007\n" + row + "\n", newline="")
    with pytest.raises(DataError) as error:
        write_clean_csv([raw], tmp_path / "out.csv", SPEC)
    assert (
        f"{raw}, row 3, column '{column}': {value} spans several lines; expected a value on one line"
        in str(error.value)
    )


def test_a_row_with_more_fields_than_the_header_is_refused(tmp_path):
    """The value past the header's last column would otherwise be dropped unseen."""
    raw = tmp_path / "raw.csv"
    raw.write_text(HEADER + "Adelie,Dream,39.1,3750,male,2007\nAdelie,Dream,39.1,3750,male,2007,oops\n")
    with pytest.raises(DataError) as error:
        write_clean_csv([raw], tmp_path / "out.csv", SPEC)
    assert f"{raw}, row 3: 7 fields where the header has 6; expected at most one field per column" in str(
        error.value
    )


def test_short_row_is_rejected_with_its_line(tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_text(HEADER + "Adelie,Dream\n")
    with pytest.raises(DataError, match="row 2: 2 fields"):
        write_clean_csv([raw], tmp_path / "out.csv", SPEC)


def test_failed_clean_leaves_no_file(tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_text(HEADER + "Adelie,Dream,39.1,3750,male,2007\nAdelie,Dream,39.1,oops,male,2007\n")
    out = tmp_path / "clean" / "data.csv"
    with pytest.raises(DataError):
        write_clean_csv([raw], out, SPEC)
    assert list(out.parent.iterdir()) == []


def test_folder_of_files_is_read_in_name_order(tmp_path):
    (tmp_path / "b.csv").write_text(HEADER + "Gentoo,Biscoe,46.1,5000,female,2008\n")
    (tmp_path / "a.csv").write_text(HEADER + "Adelie,Dream,39.1,3750,male,2007\n")
    (tmp_path / "notes.txt").write_text("not data")
    files = find_csv_files(tmp_path)
    assert [f.name for f in files] == ["a.csv", "b.csv"]
    out = tmp_path / "out" / "data.csv"
    assert write_clean_csv(files, out, SPEC) == 2


def test_source_errors_are_actionable(tmp_path):
    with pytest.raises(NoDataError, match="no such file or folder"):
        find_csv_files(tmp_path / "missing.csv")
    with pytest.raises(NoDataError, match=r"holds no \.csv files"):
        find_csv_files(tmp_path)


def test_fingerprint_follows_content_not_time(tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_text(HEADER + "Adelie,Dream,39.1,3750,male,2007\n")
    first = fingerprint([raw], SPEC)
    raw.write_text(HEADER + "Adelie,Dream,39.1,3750,male,2007\n")
    assert fingerprint([raw], SPEC) == first
    raw.write_text(HEADER + "Adelie,Dream,39.2,3750,male,2007\n")
    assert fingerprint([raw], SPEC) != first


def test_fingerprint_ignores_file_names_but_not_where_files_end(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(HEADER + "Adelie,Dream,39.1,3750,male,2007\n")
    second.write_text(HEADER + "Gentoo,Biscoe,46.1,5000,female,2008\n")
    renamed = tmp_path / "renamed.csv"
    renamed.write_bytes(first.read_bytes())
    assert fingerprint([renamed], SPEC) == fingerprint([first], SPEC)
    joined = tmp_path / "joined.csv"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    assert fingerprint([joined, renamed], SPEC) != fingerprint([first, second], SPEC)


def test_content_digest_follows_the_examples_not_their_order(tmp_path):
    rows = ["Adelie,Dream,39.1,3750,male,2007\n", "Gentoo,Biscoe,46.1,5000,female,2008\n"]
    digests = []
    for name, text in [
        ("a.csv", HEADER + rows[0] + rows[1]),
        ("b.csv", HEADER + rows[1] + rows[0]),  # the same examples in another order
        ("c.csv", HEADER.replace("\n", "\r\n") + rows[0].replace("3750", "3750.0") + rows[1]),
        ("d.csv", HEADER + rows[0] + rows[0] + rows[1]),  # a repeated example is more data
        ("e.csv", HEADER + rows[0]),
    ]:
        out = tmp_path / name / "data.csv"
        (tmp_path / name).mkdir()
        (tmp_path / name / "raw.csv").write_text(text)
        write_clean_csv([tmp_path / name / "raw.csv"], out, SPEC)
        digests.append(content_digest(out))
    assert digests[0] == digests[1] == digests[2]
    assert len(set(digests[2:])) == 3


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    raw = tmp_path / "excel.csv"
    raw.write_text(HEADER + "Adelie,Torgersen,39.1,3750,male,2007\n", encoding="utf-8-sig")
    assert raw.read_bytes().startswith(b"\xef\xbb\xbf")
    out = tmp_path / "clean" / "data.csv"
    assert write_clean_csv([raw], out, SPEC) == 1
    assert out.read_text().splitlines()[:2] == [
        "species,body_mass_g,bill_length_mm,island,sex",
        "Adelie,3750.0,39.1,Torgersen,male",
    ]


def test_a_binary_file_is_rejected_naming_the_byte(tmp_path):
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(DataError) as error:
        write_clean_csv([image], tmp_path / "clean" / "data.csv", SPEC)
    assert str(error.value) == (
        f"{image}: not a UTF-8 text CSV file (byte 0x89 at offset 0); expected a raw CSV file saved as UTF-8"
    )
    assert not (tmp_path / "clean").exists() or list((tmp_path / "clean").iterdir()) == []


def test_a_latin1_byte_deep_in_the_file_is_located_exactly(tmp_path):
    head = (HEADER + "Adelie,Dream,39.1,3750,male,2007\n" * 5000).encode()
    raw = tmp_path / "latin1.csv"
    raw.write_bytes(head + "Adelie,Île,39.1,3750,male,2007\n".encode("latin-1"))
    with pytest.raises(DataError, match=rf"\(byte 0xce at offset {len(head) + 7}\)"):
        write_clean_csv([raw], tmp_path / "out.csv", SPEC)


def test_a_nul_byte_is_rejected_with_its_row(tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_bytes((HEADER + "Adelie,Dream,39.1,3750,male,2007\n").encode() + b"Adelie,\x00,1,2,male,2007\n")
    with pytest.raises(DataError, match=r"raw\.csv, row 3: not readable as CSV \(line contains NUL\)"):
        write_clean_csv([raw], tmp_path / "out.csv", SPEC)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "species,island,bill_length_mm,body_mass_g,sex,body_mass_g",
            "column 'body_mass_g' appears 2 times in the header (columns 4, 6)",
        ),
        (
            "species,island,bill_length_mm,body_mass_g,sex,year, year",
            "column 'year' appears 2 times in the header (columns 6, 7)",
        ),
    ],
)
def test_a_column_named_twice_is_refused(tmp_path, header, message):
    raw = tmp_path / "raw.csv"
    raw.write_text(header + "\nAdelie,Dream,39.1,3750,male,2007,heavy\n")
    with pytest.raises(DataError) as error:
        write_clean_csv([raw], tmp_path / "out.csv", SPEC)
    assert str(error.value) == f"{raw}: {message}; expected each column name once"
