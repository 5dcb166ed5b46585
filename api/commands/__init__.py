"""CLI sub-commands, one module per area; ``api.cli`` mounts them."""

from functools import cache

from api.context import Context
from api.settings import Settings


@cache
def context() -> Context:
    """The CLI's context; settings are read (and validated) on first use."""
    return Context(Settings())
