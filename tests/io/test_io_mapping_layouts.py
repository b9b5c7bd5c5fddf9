"""Mapping grammar for common layouts (issue 14, item 5): a total declared absent, a
total derived as a sum of columns, a unit key from several columns, empty header cells,
"NA" cells, and the mapping-declared place and area levels (contract C7)."""
from pathlib import Path

import pytest

from escrutinio.errors import InputError, MappingError
from escrutinio.io import Mapping, builtin_mappings, read_snapshots

HEADER = "region,station,town,registered,issued_station,issued_early,issued_outside,invalid,valid,A,B,C"
ROWS = [
    "North,1,Alpha,1000,600,50,20,10,660,300,200,160",
    "North,2,Alpha,900,500,0,10,5,505,250,150,105",
    "South,1,Beta,1200,700,30,30,20,740,400,300,40",
]


def write(tmp_path: Path, text: str, name="protocols.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def mapping(**overrides) -> Mapping:
    doc = {
        "name": "protocols",
        "place_level": "station",
        "area_level": "town",
        "election": {"name": "Test", "contest": "President"},
        "columns": {
            "unit": ["region", "station"],
            "registered": "registered",
            "blank": {"absent": True},
            "null": "invalid",
            "valid": "valid",
            "emitted": {"sum": ["issued_station", "issued_early", "issued_outside"]},
        },
        "levels": {"region": "region", "town": "town", "station": "station"},
        "choices": {"columns": ["A", "B", "C"]},
    }
    for k, v in overrides.items():
        doc[k] = v
    return Mapping.from_dict(doc)


def test_sum_absent_and_composite_unit(tmp_path):
    p = write(tmp_path, "\n".join([HEADER, *ROWS]) + "\n")
    (snap,) = read_snapshots(p, mapping=mapping())
    f = snap.frame
    # station numbers repeat across regions: the key is region/station
    assert f["unit"].to_list() == ["North/1", "North/2", "South/1"]
    assert f["emitted"].to_list() == [670, 510, 760]
    assert f["blank"].to_list() == [0, 0, 0]
    assert "emitted" not in snap.derived
    assert any("emitted = issued_station + issued_early + issued_outside" in n for n in snap.notes)
    assert any("blank is not published" in n for n in snap.notes)
    assert (snap.place_level, snap.area_level) == ("station", "town")
    assert snap.describe()["area_level"] == "town"


def test_unit_separator_option(tmp_path):
    p = write(tmp_path, "\n".join([HEADER, *ROWS]) + "\n")
    m = mapping()
    doc_cols = {"unit": {"columns": ["region", "station"], "separator": "-"}, "registered": "registered",
                "blank": False, "null": "invalid"}
    m = Mapping.from_dict({"name": "x", "columns": doc_cols, "levels": {"region": "region"},
                           "choices": {"columns": ["A", "B", "C"]}})
    (snap,) = read_snapshots(p, mapping=m)
    assert snap.frame["unit"].to_list() == ["North-1", "North-2", "South-1"]
    assert snap.place_level is None and snap.area_level is None


def test_sum_column_missing_is_named(tmp_path):
    header = HEADER.replace("issued_early", "early")
    p = write(tmp_path, "\n".join([header, *ROWS]) + "\n")
    with pytest.raises(InputError, match="issued_early"):
        read_snapshots(p, mapping=mapping())


def test_sum_cell_not_a_number_names_row_and_column(tmp_path):
    rows = [*ROWS[:2], ROWS[2].replace(",30,30,", ",30,x,")]
    p = write(tmp_path, "\n".join([HEADER, *rows]) + "\n")
    with pytest.raises(InputError) as e:
        read_snapshots(p, mapping=mapping())
    assert e.value.row == 4 and e.value.column == "issued_outside"


def test_only_blank_and_null_may_be_absent():
    with pytest.raises(MappingError, match="cannot be absent"):
        mapping(columns={"unit": "station", "registered": {"absent": True}, "blank": "b", "null": "n"})
    with pytest.raises(MappingError, match="absent = true"):
        mapping(columns={"unit": "station", "registered": "r", "null": "n"})


def test_registered_cannot_be_optional():
    with pytest.raises(MappingError, match="cannot be optional"):
        mapping(columns={"unit": "station", "registered": {"column": "r", "optional": True}, "blank": "b", "null": "n"})


def test_optional_blank_absent_from_file_is_zero_and_said(tmp_path):
    # before: an optional blank column absent from the file crashed with a Polars error
    p = write(tmp_path, "\n".join([HEADER, *ROWS]) + "\n")
    cols = {"unit": ["region", "station"], "registered": "registered", "null": "invalid",
            "blank": {"column": "blank_ballots", "optional": True}}
    (snap,) = read_snapshots(p, mapping=mapping(columns=cols))
    assert snap.frame["blank"].to_list() == [0, 0, 0]
    assert any("blank is not published" in n for n in snap.notes)


def test_levels_must_be_declared_levels():
    with pytest.raises(MappingError, match="area_level"):
        mapping(area_level="district")


def test_na_cells_in_choice_columns_are_zero_when_declared(tmp_path):
    rows = [ROWS[0], ROWS[1].replace(",150,105", ",NA,255"), ROWS[2]]
    p = write(tmp_path, "\n".join([HEADER, *rows]) + "\n")
    with pytest.raises(InputError, match="not a number: 'NA'"):
        read_snapshots(p, mapping=mapping())  # undeclared: refused, naming the cell
    (snap,) = read_snapshots(p, mapping=mapping(source={"na_values": ["NA"]}))
    assert snap.frame["B"].to_list() == [200, 0, 300]
    assert any("read as 0 votes" in n for n in snap.notes)


def test_na_in_a_required_total_is_refused(tmp_path):
    rows = [ROWS[0], ROWS[1].replace("North,2,Alpha,900", "North,2,Alpha,NA"), ROWS[2]]
    p = write(tmp_path, "\n".join([HEADER, *rows]) + "\n")
    with pytest.raises(InputError) as e:
        read_snapshots(p, mapping=mapping(source={"na_values": ["NA"]}))
    assert e.value.row == 3 and e.value.column == "registered" and "never read as 0" in str(e.value)


def test_na_in_optional_valid_total_is_null(tmp_path):
    rows = [ROWS[0], ROWS[1].replace(",5,505,", ",5,NA,"), ROWS[2]]
    p = write(tmp_path, "\n".join([HEADER, *rows]) + "\n")
    (snap,) = read_snapshots(p, mapping=mapping(source={"na_values": ["NA"]}))
    assert snap.frame["valid_reported"].to_list() == [660, None, 740]


def test_empty_header_cell_gets_a_positional_name(tmp_path):
    # a trailing delimiter or an unnamed column: it becomes column_N (N = position)
    header = HEADER + ","
    rows = [r + "," for r in ROWS]
    p = write(tmp_path, "\n".join([header, *rows]) + "\n")
    (snap,) = read_snapshots(p, mapping=mapping())
    assert snap.n_units == 3
    header2 = HEADER.replace("town", "")
    p2 = write(tmp_path, "\n".join([header2, *ROWS]) + "\n", "unnamed.csv")
    levels = {"region": "region", "town": "column_3", "station": "station"}
    (snap2,) = read_snapshots(p2, mapping=mapping(levels=levels))
    assert snap2.frame["town"].to_list() == ["Alpha", "Alpha", "Beta"]


def test_bolivia_builtin_mappings_declare_levels():
    for m in builtin_mappings().values():
        if m.name.startswith("bolivia"):
            assert (m.place_level, m.area_level) == ("polling_place", "municipality")
        else:   # Russia's protocols: one per UIK, compared within their TIK
            assert (m.place_level, m.area_level) == ("uik", "tik")


def test_roll_from_any_count_through_a_mapping():
    from escrutinio.io import read_roll

    ex = Path(__file__).resolve().parents[2] / "examples" / "protocols_ru"
    roll = read_roll(ex / "protocols_ru_2024-03-18T09-00-00.csv", mapping=str(ex / "protocols_ru.toml"))
    assert roll.height == 600 and roll["registered"].sum() == 799_138
    assert roll.columns == ["unit", "unit_id", "place_id", "region", "tik", "uik", "registered"]


def test_xlsx_empty_header_cell_and_composite_key(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    header = HEADER.split(",")
    header[2] = None  # the town column has no name
    ws.append(header)
    for r in ROWS:
        ws.append([int(c) if c.isdigit() else c for c in r.split(",")])
    p = tmp_path / "protocols.xlsx"
    wb.save(p)
    levels = {"region": "region", "town": "column_3", "station": "station"}
    (snap,) = read_snapshots(p, mapping=mapping(levels=levels))
    assert snap.frame["town"].to_list() == ["Alpha", "Alpha", "Beta"]
    assert snap.frame["unit"].to_list() == ["North/1", "North/2", "South/1"]
    assert snap.frame["emitted"].to_list() == [670, 510, 760]


@pytest.mark.parametrize("override", [
    {"levels": "region"}, {"choices": 5}, {"attributes": {"a": 5}}, {"columns": {"unit": 5, "registered": "r",
                                                                                 "blank": "b", "null": "n"}},
    {"source": {"skip_rows": "two"}}, {"election": {"exported_at": "yesterday"}},
])
def test_malformed_mapping_values_are_mapping_errors(override):
    with pytest.raises(MappingError):
        mapping(**override)


def test_snapshot_carries_the_declared_rule(tmp_path):
    from escrutinio.law import presidential

    p = write(tmp_path, "\n".join([HEADER, *ROWS]) + "\n")
    (snap,) = read_snapshots(p, mapping=mapping(law={"preset": "costa_rica"}))
    assert snap.presidential_rule == "costa_rica"
    assert presidential.resolve(None, snap.presidential_rule).name.startswith("Costa Rica")
    (plain,) = read_snapshots(p, mapping=mapping())
    assert plain.presidential_rule is None
    (bolivia,) = read_snapshots(Path(__file__).resolve().parents[2] / "examples" / "bolivia" / "2019"
                                / "computo_2019-10-25.csv.gz")
    assert bolivia.presidential_rule == "bolivia"
