"""The observer-network server: API, storage and pages. It holds no counting logic: it
calls escrutinio.app, escrutinio.observers and escrutinio.publication."""
