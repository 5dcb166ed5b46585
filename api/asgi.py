"""ASGI entry point for process managers (``uvicorn api.asgi:app --workers N``)."""

from api.app import create_app
from api.settings import Settings

app = create_app(Settings(), migrate=False)
