"""The application layer: the orchestration that the CLI, the server and the Python API
share (read, check, tabulate, apply the law, project). Nothing here prints or parses
command lines; nothing here knows about HTTP."""
