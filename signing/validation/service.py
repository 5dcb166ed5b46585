"""Long-lived validation state for a process: the policy store and parsed trust stores."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cryptography import x509

from signing.validation.core import async_validate
from signing.validation.limits import DEFAULT_LIMITS, ValidationLimits
from signing.validation.policies import PolicyStore
from signing.validation.report import ValidationReport


class Validator:
    """Validates documents against a municipality's trust store.

    Trust stores are read and parsed once per distinct list of paths, not per request.
    """

    def __init__(
        self, policy_store: PolicyStore, limits: ValidationLimits = DEFAULT_LIMITS
    ) -> None:
        self.policy_store = policy_store
        self.limits = limits
        self._stores: dict[tuple[str, ...], tuple[x509.Certificate, ...]] = {}
        self._lock = threading.Lock()

    def trust_roots(self, paths: Sequence[str]) -> tuple[x509.Certificate, ...]:
        key = tuple(paths)
        with self._lock:
            if key not in self._stores:
                from certs.store import load_trust_store

                self._stores[key] = tuple(load_trust_store(list(key)))
            return self._stores[key]

    async def validate(
        self,
        document: bytes,
        *,
        detached: bytes | None = None,
        trust_store: Sequence[str] = (),
        at: datetime | None = None,
        offline: bool = False,
    ) -> ValidationReport:
        return await async_validate(
            document,
            detached=detached,
            trust_roots=self.trust_roots(trust_store),
            at=at,
            offline=offline,
            policy_store=self.policy_store,
            limits=self.limits,
        )


def default_policy_dirs(data_dir: Path) -> list[Path]:
    """Where a deployment keeps signature-policy documents unless configured otherwise."""
    return [data_dir / "policies"]


def validate_sync(validator: Validator, document: bytes, **kwargs: object) -> ValidationReport:
    """Run one validation on its own event loop (for worker threads and the CLI).

    Validation is CPU-bound; running it on a server's event loop would stall every
    other request, including the OCSP responder the validation may be fetching from.
    """
    import asyncio

    return asyncio.run(validator.validate(document, **kwargs))  # type: ignore[arg-type]
