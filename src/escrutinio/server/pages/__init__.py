"""HTML pages of the dashboard: the public results page at ``/`` and the observers' pages
(data entry, second entry, resolution, discrepancies, PVT, audit), in Spanish and English.

``router`` is mounted by :func:`escrutinio.server.app.create_app` without a prefix; the
static files live in ``static/`` (served at ``/static``), the templates in ``templates/``
and the gettext catalogues in ``escrutinio/server/locale/``.
"""
from escrutinio.server.pages import data
from escrutinio.server.pages.views import STATIC, router
from escrutinio.server.pages import watch

router.include_router(data.router)
router.include_router(watch.router)

__all__ = ["STATIC", "router"]
