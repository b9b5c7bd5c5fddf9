"""Issue 14 item 7 (the parts owned by the application layer): `check` on multi-contest
files, `audit sample` headers, the README's first-look commands, progress bars."""
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from escrutinio.cli import main
from escrutinio.cli.progress import enabled, progress

ROOT = Path(__file__).resolve().parents[2]
EXPORT_0138 = str(ROOT / "examples" / "bolivia" / "2020" / "computo_20201019T013833.csv.gz")


def run(*args):
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def test_check_on_a_multi_contest_file_names_the_contest_and_counts_every_acta():
    out = run("check", EXPORT_0138)
    # 8 tables have a repaired record, in each of the file's two contests: 16 actas, 16 lines
    assert re.search(r"record_repaired\s+16 actas", out)
    lines = [line for line in out.splitlines() if line.strip().startswith("record_repaired")]
    assert len(lines) == 16 and len(set(lines)) == 16
    assert "PRESIDENTE · computo_20201019T013833.csv.gz" in out
    assert "DIPUTADO CIRCUNSCRIPCIÓN UNINOMINAL · computo_20201019T013833.csv.gz" in out
    r = json.loads(run("check", EXPORT_0138, "--format", "json"))
    assert r["failing_units"] == 16
    assert {f["contest"] for f in r["findings"]} == {"PRESIDENTE", "DIPUTADO CIRCUNSCRIPCIÓN UNINOMINAL"}


def test_audit_sample_prints_a_header():
    out = run("audit", "sample", "--seed", "314159", "--ids", "A-1,A-2,A-3,B-1,B-2,B-3", "--n", "4")
    lines = out.splitlines()
    assert lines[0].startswith("4 of 6 ids, seed 314159")
    assert lines[1].split("\t") == ["id", "ticket number", "generation"]
    assert len(lines) == 6


def _first_look_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## A first look", 1)[1].split("```", 2)[1]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_first_look_activates_the_venv_first():
    lines = _first_look_block()
    assert lines[0] == "source .venv/bin/activate"
    assert all(line.startswith("escrutinio ") for line in lines[1:])
    install = (ROOT / "README.md").read_text().split("\n")[1]
    assert "python3 -m venv .venv" in install and ".venv/bin/pip install" in install


def test_readme_first_look_commands_run_as_written_in_a_fresh_shell():
    """Without the venv on PATH, the block as written (activation line first) works."""
    venv = Path(sys.prefix)
    assert (venv / "bin" / "activate").exists()
    lines = _first_look_block()
    cheap = [line for line in lines[1:] if line.startswith(("escrutinio seats --method", "escrutinio audit"))]
    cheap.append(lines[1])  # the first results command
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if not p.startswith(str(venv)))
    env = {**os.environ, "PATH": path}
    env.pop("VIRTUAL_ENV", None)
    script = f"cd {ROOT} && source {venv}/bin/activate && " + " && ".join(f"{c} >/dev/null" for c in cheap)
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    without = subprocess.run(["bash", "-c", f"cd {ROOT} && command -v escrutinio"], env=env, capture_output=True, text=True)
    assert without.returncode != 0 or not without.stdout.startswith(str(venv))


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_shows_on_a_terminal_and_nothing_when_piped():
    piped = io.StringIO()
    assert not enabled(piped)
    with progress("reading", total=3, stream=piped) as step:
        for _ in range(3):
            step()
    assert piped.getvalue() == ""
    tty = _Terminal()
    assert enabled(tty)
    with progress("reading", total=3, stream=tty) as step:
        for _ in range(3):
            step("file.csv")
    assert tty.getvalue() != ""


def test_piped_json_has_no_progress_noise():
    out = run("results", EXPORT_0138, "--format", "json")
    assert out.lstrip().startswith("{") and "\x1b" not in out


def _run_in_a_terminal(args: list[str]) -> tuple[int, str]:
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(timeout=300), out.decode("utf-8", "replace")


def test_long_commands_show_a_spinner_on_a_terminal_and_nothing_when_piped():
    from escrutinio.cli import LONG_COMMANDS, main as group

    for name in ("forensics", "project", "report", "check"):
        assert name in LONG_COMMANDS and getattr(group.commands[name].callback, "_escrutinio_activity", False)
    exe = str(Path(sys.executable).parent / "escrutinio")
    code, out = _run_in_a_terminal([exe, "check", EXPORT_0138])
    assert code == 0
    assert "escrutinio check" in out and "\x1b[" in out  # the spinner, drawn then erased
    assert "5,011 actas checked" in out  # the output itself is intact
    piped = subprocess.run([exe, "check", EXPORT_0138], capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0 and "\x1b" not in piped.stdout + piped.stderr
    assert piped.stdout.startswith("5,011 actas checked")
