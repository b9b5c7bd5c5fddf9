"""Each command imports only its own module (start-up, issue 28); nothing is lost."""
from __future__ import annotations

import subprocess
import sys

from escrutinio.cli import COMMAND_MODULES, LONG_COMMANDS, MODULES, main


def test_every_command_is_mapped_to_its_module():
    names = list(main.commands)  # imports every module
    assert sorted(names) == sorted(COMMAND_MODULES)
    for name in names:
        cmd = main.commands[name]
        assert cmd.name == name
    import click

    for name in LONG_COMMANDS:
        cmd = main.commands[name]
        for c in cmd.commands.values() if isinstance(cmd, click.Group) else [cmd]:
            assert getattr(c.callback, "_escrutinio_activity", False), (name, c.name)


def test_one_command_imports_one_module():
    code = ("import sys\nsys.argv = ['escrutinio', 'seats', '--help']\nfrom escrutinio.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('escrutinio.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = eval(out.strip().splitlines()[-1])
    assert "escrutinio.cli.seats" in loaded
    assert not {f"escrutinio.cli.{m}" for m in MODULES if m != "seats"} & set(loaded), loaded


def test_a_module_imported_by_another_still_gets_its_spinner():
    code = ("import escrutinio.cli as c\nimport escrutinio.cli.results  # as cli/dynamics does, inside a command\n"
            "print(getattr(c.main.commands['check'].callback, '_escrutinio_activity', False))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"


def test_help_imports_no_polars():
    """`escrutinio --help` lists every command without importing polars (start-up)."""
    code = ("import sys\nsys.argv = ['escrutinio', '--help']\nfrom escrutinio.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('polars' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_a_whole_process_freezes_its_imports_and_a_call_in_process_does_not():
    # the console script (run) pauses the collector for polars' import and freezes what
    # exists; main() called in-process (tests, notebooks) must leave the collector alone,
    # or the caller's pending garbage would be frozen with it
    probe = ("import atexit, gc, sys\n"
             "atexit.register(lambda: print('frozen', gc.get_freeze_count(), gc.isenabled()))\n"
             "sys.argv = ['escrutinio', 'mappings']\n"
             "import escrutinio.cli as c\n"
             f"c.{{}}()\n")
    whole = subprocess.run([sys.executable, "-c", probe.format("run")], capture_output=True, text=True)
    in_process = subprocess.run([sys.executable, "-c", probe.format("main")], capture_output=True, text=True)
    assert whole.returncode == 0 and in_process.returncode == 0, (whole.stderr, in_process.stderr)
    frozen_whole = whole.stdout.strip().splitlines()[-1].split()
    frozen_call = in_process.stdout.strip().splitlines()[-1].split()
    assert int(frozen_whole[1]) > 10_000 and frozen_whole[2] == "True"
    assert frozen_call[1:] == ["0", "True"]
    # --help never reaches a command: no polars, nothing frozen
    help_probe = probe.replace("'mappings'", "'results', '--help'").format("run")
    out = subprocess.run([sys.executable, "-c", help_probe], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1].split()[1] == "0"


def test_python_dash_m_is_the_console_script():
    out = subprocess.run([sys.executable, "-m", "escrutinio", "mappings"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "bolivia-2019-linked" in out.stdout
