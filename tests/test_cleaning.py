import csv

import pytest

from components.cleaning import CleaningSpec, DataError, find_csv_files, fingerprint, write_clean_csv

SPEC = CleaningSpec(label="species", numeric=["body_mass_g", "bill_length_mm"], categorical=["island", "sex"])
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


def test_value_with_a_line_break_names_row_and_column(tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_text(HEADER + 'Adelie,"Dream\nIsland",39.1,3750,male,2007\n')
    with pytest.raises(DataError) as error:
        write_clean_csv([raw], tmp_path / "out.csv", SPEC)
    assert f"{raw}, row 3, column 'island': 'Dream\\nIsland' spans several lines" in str(error.value)


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
    with pytest.raises(DataError, match="no such file or folder"):
        find_csv_files(tmp_path / "missing.csv")
    with pytest.raises(DataError, match=r"holds no \.csv files"):
        find_csv_files(tmp_path)


def test_fingerprint_follows_content_not_time(tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_text(HEADER + "Adelie,Dream,39.1,3750,male,2007\n")
    first = fingerprint([raw], SPEC)
    raw.write_text(HEADER + "Adelie,Dream,39.1,3750,male,2007\n")
    assert fingerprint([raw], SPEC) == first
    raw.write_text(HEADER + "Adelie,Dream,39.2,3750,male,2007\n")
    assert fingerprint([raw], SPEC) != first
