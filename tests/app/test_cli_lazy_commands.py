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
