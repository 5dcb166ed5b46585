"""Imports every package's models so that ``Base.metadata`` knows every table."""

import infra.tenancy  # noqa: F401
