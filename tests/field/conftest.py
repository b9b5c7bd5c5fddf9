from escrutinio.server.testing import database_url, server_client  # noqa: F401
