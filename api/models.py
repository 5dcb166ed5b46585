"""Imports every package's models so that ``Base.metadata`` knows every table."""

import certs.revocation  # noqa: F401
import identity.oidc.models
import identity.staff  # noqa: F401
import infra.tenancy  # noqa: F401
import registry.log
import registry.models  # noqa: F401
import signing.models  # noqa: F401
