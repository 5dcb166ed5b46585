"""The RFC 3161 client used for every timestamp eLocal obtains.

One client builds every request and checks every reply, whichever TSA answers: a
municipality's external TSA over HTTP, or eLocal's own TSA, which the sealer calls
in process (the same DER request and reply that ``POST /tsa`` carries, without a
network round trip or the public endpoint's rate limit). A TSA that cannot be
reached, answers with an error, echoes the wrong nonce or stamps a different digest
raises ``TsaUnavailable``: a requested level is never silently downgraded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import threading
from collections.abc import Callable

import httpx
from asn1crypto import cms, tsp
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError, handle_tsp_response

from signing.errors import TsaUnavailable
from signing.tsa import TimeStampRespStatus

TSQ = "application/timestamp-query"
TSR = "application/timestamp-reply"


class Rfc3161TimeStamper(TimeStamper):
    """pyHanko ``TimeStamper`` that checks status, nonce and imprint of every reply.

    Subclasses only carry the DER request to a TSA and its reply back.
    """

    #: Names the TSA in error messages and problem documents.
    url: str

    def __init__(self) -> None:
        super().__init__(include_nonce=True)

    def request_sync(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        raise NotImplementedError

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return await asyncio.to_thread(self.request_sync, req)

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        nonce, req = self.request_cms(message_digest, md_algorithm)
        res = await self.async_request_tsa_response(req)
        status = TimeStampRespStatus.load(res.dump())["status"]
        if status["status"].native not in ("granted", "granted_with_mods"):
            raise TsaUnavailable(f"the TSA at {self.url} refused the request: "
                                 f"{status['status_string'].native} "
                                 f"({status['fail_info'].native})", tsa_url=self.url)
        try:
            token = handle_tsp_response(res, nonce)
            imprint = token["content"]["encap_content_info"]["content"].parsed["message_imprint"]
        except (TimestampRequestError, ValueError, KeyError) as exc:
            raise TsaUnavailable(f"the TSA at {self.url} refused or botched the request: {exc}",
                                 tsa_url=self.url) from exc
        if not hmac.compare_digest(imprint["hashed_message"].native, message_digest) or \
                imprint["hash_algorithm"]["algorithm"].native != md_algorithm:
            raise TsaUnavailable(f"the TSA at {self.url} stamped a different digest",
                                 tsa_url=self.url)
        return token

    def timestamp_digest(self, digest: bytes, md_algorithm: str = "sha256") -> cms.ContentInfo:
        return _run(self.async_timestamp(digest, md_algorithm))

    def timestamp_data(self, data: bytes, md_algorithm: str = "sha256") -> cms.ContentInfo:
        return self.timestamp_digest(hashlib.new(md_algorithm, data).digest(), md_algorithm)


class HttpTimeStamper(Rfc3161TimeStamper):
    """RFC 3161 over HTTP, on a shared, pooled ``httpx.Client``."""

    def __init__(self, url: str, *, client: httpx.Client | None = None,
                 timeout: float = 10.0) -> None:
        super().__init__()
        self.url = url
        self._client = client or httpx.Client(timeout=timeout)
        self._timeout = timeout

    def request_sync(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        try:
            res = self._client.post(self.url, content=req.dump(), timeout=self._timeout,
                                    headers={"Content-Type": TSQ, "Accept": TSR})
        except httpx.HTTPError as exc:
            raise TsaUnavailable(f"the TSA at {self.url} cannot be reached: {exc}",
                                 tsa_url=self.url) from exc
        if res.status_code != 200 or res.headers.get("content-type", "").split(";")[0] != TSR:
            raise TsaUnavailable(f"the TSA at {self.url} answered HTTP {res.status_code}",
                                 tsa_url=self.url)
        return _load_reply(res.content, self.url)


class LocalTimeStamper(Rfc3161TimeStamper):
    """eLocal's own TSA, called in process with the DER that ``POST /tsa`` would carry."""

    def __init__(self, respond: Callable[[bytes], bytes], *, url: str = "local TSA") -> None:
        super().__init__()
        self.url = url
        self._respond = respond

    def request_sync(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return _load_reply(self._respond(req.dump()), self.url)


def _load_reply(der: bytes, url: str) -> tsp.TimeStampResp:
    try:
        return tsp.TimeStampResp.load(der)
    except ValueError as exc:
        raise TsaUnavailable(f"the TSA at {url} sent a malformed reply", tsa_url=url) from exc


_LOOPS = threading.local()


def _run(coro):  # type: ignore[no-untyped-def]
    """Run a coroutine to completion from synchronous code.

    Each thread keeps one event loop for this. ``asyncio.run`` is avoided on purpose:
    in the main thread it swaps the SIGINT handler, and CPython 3.11 then formats
    ``repr()`` of the finished task, result included, which for a sealed 10 MB PDF
    costs more than the signature itself. Inside a running loop the coroutine runs on
    a helper thread.
    """
    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    if in_loop:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(_run, coro).result()
    loop = getattr(_LOOPS, "loop", None)
    if loop is None or loop.is_closed():
        loop = _LOOPS.loop = asyncio.new_event_loop()
    return loop.run_until_complete(coro)


run_sync = _run
