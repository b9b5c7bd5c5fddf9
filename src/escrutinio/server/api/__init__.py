"""HTTP API routers, mounted under /api/v1 by escrutinio.server.app."""
