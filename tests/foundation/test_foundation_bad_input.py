"""Bad input: a clear error naming the file, row and column, a non-zero exit, and
nothing written."""
import gzip
from pathlib import Path

import pytest
from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.errors import InputError
from escrutinio.io import read_snapshots

HEADER = "Número Mesa,País,Departamento,Provincia,Municipio,Localidad,Recinto,Inscritos,CC,FPV,MTS,UCS,MAS - IPSP,21F,PDC,MNR,PAN-BOL,Blancos,Nulos"
ROW = "{u},Bolivia,La Paz,Murillo,La Paz,La Paz,Escuela Ñandú,200,50,1,2,0,{mas},3,10,1,1,2,5"


def good_lines(n=5):
    return [HEADER] + [ROW.format(u=1000 + i, mas=60 + i) for i in range(n)]


def write(tmp_path: Path, name: str, lines, encoding="utf-8", gz=False) -> Path:
    data = ("\n".join(lines) + "\n").encode(encoding)
    p = tmp_path / name
    p.write_bytes(gzip.compress(data) if gz else data)
    return p


def cli_fails(tmp_path, path, *needles):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(path), "-o", str(out)])
    assert result.exit_code != 0
    assert not out.exists(), "nothing may be written on bad input"
    message = result.output
    assert str(path) in message
    for n in needles:
        assert n in message, message
    return message


def test_good_file_reads(tmp_path):
    p = write(tmp_path, "ok.csv", good_lines())
    (s,) = read_snapshots(p)
    assert s.n_units == 5 and s.frame["MAS - IPSP"].to_list() == [60, 61, 62, 63, 64]
    assert s.frame["polling_place"][0] == "Escuela Ñandú"


def test_truncated_gzip(tmp_path):
    p = write(tmp_path, "cut.csv.gz", good_lines(200), gz=True)
    p.write_bytes(p.read_bytes()[:-40])
    cli_fails(tmp_path, p, "truncated")


def test_truncated_last_line(tmp_path):
    lines = good_lines(5)
    lines[-1] = lines[-1][:25]
    p = write(tmp_path, "cut.csv", lines)
    msg = cli_fails(tmp_path, p, "row 6")
    with pytest.raises(InputError) as exc:
        read_snapshots(p)
    assert exc.value.row == 6


def test_wrong_encoding_declared(tmp_path):
    p = write(tmp_path, "latin.csv", good_lines(), encoding="latin-1")
    mapping = tmp_path / "m.toml"
    from escrutinio.io import builtin_mappings
    src = Path(builtin_mappings()["bolivia-2019"].source_file).read_text(encoding="utf-8")
    mapping.write_text(src.replace("[law]", "[source]\nencoding = \"utf-8\"\n\n[law]", 1), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_snapshots(p, mapping=str(mapping))
    # the header itself ("Número Mesa") is the first Latin-1 text in the file
    assert exc.value.row == 1 and "mero Mesa" in exc.value.column
    assert "not valid utf-8" in str(exc.value)
    ascii_header = [HEADER.replace("Número", "Numero").replace("País", "Pais")] + good_lines()[1:]
    p2 = write(tmp_path, "latin2.csv", ascii_header, encoding="latin-1")
    mapping.write_text(mapping.read_text(encoding="utf-8").replace('"Número Mesa"', '"Numero Mesa"').replace('"País"', '"Pais"'), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_snapshots(p2, mapping=str(mapping))
    assert exc.value.row == 2 and exc.value.column == "Recinto"


def test_latin1_autodetected(tmp_path):
    p = write(tmp_path, "latin.csv", good_lines(), encoding="latin-1")
    (s,) = read_snapshots(p)
    assert s.frame["polling_place"][0] == "Escuela Ñandú"


def test_utf8_bom(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbf" + ("\n".join(good_lines()) + "\n").encode())
    (s,) = read_snapshots(p)
    assert s.n_units == 5


def test_missing_column(tmp_path):
    lines = [line.rsplit(",", 1)[0] for line in good_lines()]  # drop "Nulos"
    p = write(tmp_path, "nocol.csv", lines)
    cli_fails(tmp_path, p, "Número Mesa")  # undetectable layout names the columns it saw
    from escrutinio.io import builtin_mappings
    with pytest.raises(InputError) as exc:
        read_snapshots(p, mapping=builtin_mappings()["bolivia-2019"])
    assert exc.value.column == "Nulos" and exc.value.row == 1


def test_text_in_vote_column(tmp_path):
    lines = good_lines()
    lines[3] = lines[3].replace(",50,1,", ",cincuenta,1,")
    p = write(tmp_path, "text.csv", lines)
    cli_fails(tmp_path, p, "row 4", "column 'CC'", "cincuenta")


def test_non_integer_vote(tmp_path):
    lines = good_lines()
    lines[2] = lines[2].replace(",50,1,", ",50.5,1,")
    p = write(tmp_path, "frac.csv", lines)
    cli_fails(tmp_path, p, "row 3", "non-integer")


def test_empty_vote_cell_is_not_zero(tmp_path):
    lines = good_lines()
    lines[2] = lines[2].replace(",50,1,", ",,1,")
    p = write(tmp_path, "empty.csv", lines)
    cli_fails(tmp_path, p, "row 3", "column 'CC'", "never read as 0")


def test_duplicated_header(tmp_path):
    lines = good_lines()
    lines = [line + ",0" for line in lines]
    lines[0] = HEADER + ",CC"
    p = write(tmp_path, "dup.csv", lines)
    cli_fails(tmp_path, p, "row 1", "duplicated header", "'CC'")


def test_thousands_separator_and_padding(tmp_path):
    text = "mesa;region;inscritos;A;B;blancos;nulos\n 1 ; Norte ;1.200;  600 ;1.000;5;5\n2;Sur;900;300;400;1;2\n"
    p = tmp_path / "x.csv"
    p.write_text(text, encoding="utf-8")
    m = tmp_path / "m.toml"
    m.write_text("""
[source]
delimiter = ";"
thousands = "."
[columns]
unit = "mesa"
registered = "inscritos"
blank = "blancos"
null = "nulos"
[levels]
region = "region"
[choices]
columns = ["A", "B"]
""", encoding="utf-8")
    (s,) = read_snapshots(p, mapping=str(m))
    assert s.frame["registered"].to_list() == [1200, 900]
    assert s.frame["B"].to_list() == [1000, 400]
    assert s.frame["region"].to_list() == ["Norte", "Sur"]
    assert s.frame["unit"].to_list() == ["1", "2"]


def test_zip_single_member(tmp_path):
    import zipfile
    z = tmp_path / "count.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("count.csv", "\n".join(good_lines()) + "\n")
    (s,) = read_snapshots(z)
    assert s.n_units == 5


def test_unknown_layout(tmp_path):
    p = write(tmp_path, "odd.csv", ["a,b,c", "1,2,3"])
    cli_fails(tmp_path, p, "no bundled mapping")


def test_load_writes_nothing_when_any_file_is_bad(tmp_path):
    good = write(tmp_path, "ok.csv", good_lines())
    lines = good_lines()
    lines[3] = lines[3].replace(",50,1,", ",x,1,")
    bad = write(tmp_path, "bad.csv", lines)
    ws = tmp_path / "w.duckdb"
    result = CliRunner().invoke(main, ["load", str(good), str(bad), "--workspace", str(ws)])
    assert result.exit_code != 0 and not ws.exists()
