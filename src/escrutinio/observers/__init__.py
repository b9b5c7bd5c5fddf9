"""The observer network's domain: double entry of watchers' copies and their comparison
with the official count. Pure code: no database, no web framework."""
