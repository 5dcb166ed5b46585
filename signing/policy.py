"""The Spanish General State Administration (AGE) signature policy, v1.9.

The policy document itself is not read at run time: its identifier and digest are
fixed here, as validators compare them byte for byte. The test suite proves the
digest against a copy of the published document.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass


@dataclass(frozen=True)
class SignaturePolicy:
    oid: str
    spuri: str
    description: str
    #: Digest of the policy document, as published by its issuer.
    digest_algorithm: str
    digest_b64: str

    @property
    def digest(self) -> bytes:
        return base64.b64decode(self.digest_b64)

    @property
    def urn(self) -> str:
        return f"urn:oid:{self.oid}"


AGE_1_9 = SignaturePolicy(
    oid="2.16.724.1.3.1.1.2.1.9",
    spuri="https://sede.administracion.gob.es/politica_de_firma_anexo_1.pdf",
    description="Política de firma electrónica y de certificados de la Administración General "
                "del Estado",
    digest_algorithm="sha1",
    digest_b64="G7roucf600+f03r/o0bAOQ6WAs0=",
)
