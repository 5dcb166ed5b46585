"""The composition root: the FastAPI app, settings and the ``elocal`` CLI."""

from api.app import create_app
from api.context import Context
from api.settings import Settings

__all__ = ["Context", "Settings", "create_app"]
