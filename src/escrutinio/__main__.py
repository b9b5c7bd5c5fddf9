from escrutinio.cli import run

run()
