"""eLocal's RFC 3161 TSA at /tsa, checked with openssl and through the client."""

from __future__ import annotations

import hashlib
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
from asn1crypto import tsp

from api.context import Context
from signing import TsaUnavailable
from signing.models import next_serial
from signing.timestamps import HttpTimeStamper
from signing.tsa import TimeStampRespStatus
from tests.conftest import require_tool
from tests.signing.conftest import openssl_ts_verify

TSQ = {"Content-Type": "application/timestamp-query"}


def _query(tmp_path: Path, data: bytes, *extra: str) -> tuple[Path, bytes]:
    openssl = require_tool("openssl")
    doc = tmp_path / "doc.bin"
    doc.write_bytes(data)
    tsq = tmp_path / "req.tsq"
    subprocess.run([openssl, "ts", "-query", "-data", str(doc), "-sha256", "-cert", *extra,
                    "-out", str(tsq)], check=True, capture_output=True)
    return doc, tsq.read_bytes()


def _token_info(reply: bytes) -> tsp.TSTInfo:
    resp = tsp.TimeStampResp.load(reply)
    assert resp["status"]["status"].native == "granted"
    return resp["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed


def test_openssl_verifies_tsa_tokens(live, ctx: Context, tmp_path: Path) -> None:
    doc, tsq = _query(tmp_path, b"acta del pleno")
    res = live.client().post("/tsa", content=tsq, headers=TSQ)
    assert res.status_code == 200
    assert res.headers["content-type"] == "application/timestamp-reply"
    tsr = tmp_path / "reply.tsr"
    tsr.write_bytes(res.content)
    verified = openssl_ts_verify(tsr, ctx=ctx, data=doc)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Verification: OK" in verified.stdout

    other = tmp_path / "other.bin"
    other.write_bytes(b"acta del pleno, modificada")
    assert openssl_ts_verify(tsr, ctx=ctx, data=other).returncode != 0


def test_nonce_is_echoed_and_serials_increase(live, tmp_path: Path) -> None:
    _, tsq = _query(tmp_path, b"x")
    nonce = tsp.TimeStampReq.load(tsq)["nonce"].native
    assert nonce is not None
    with live.client() as http:
        first = _token_info(http.post("/tsa", content=tsq, headers=TSQ).content)
        second = _token_info(http.post("/tsa", content=tsq, headers=TSQ).content)
    assert first["nonce"].native == nonce == second["nonce"].native
    assert second["serial_number"].native > first["serial_number"].native


def test_serials_are_unique_across_threads_and_restarts(ctx: Context) -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            n = next_serial(ctx.sessions)
            with lock:
                seen.append(n)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 40
    # A second process (a restarted worker) continues from the stored counter.
    restarted = Context(ctx.settings)
    try:
        assert next_serial(restarted.sessions) == max(seen) + 1
    finally:
        restarted.close()


@pytest.mark.parametrize(("body", "fail_info"), [
    (b"\x30\x03\x02\x01\x01", "bad_data_format"),
    (b"not DER at all", "bad_data_format"),
])
def test_malformed_requests_are_rejected_in_rfc3161_form(client, body: bytes,
                                                         fail_info: str) -> None:
    res = client.post("/tsa", content=body, headers=TSQ)
    assert res.status_code == 200
    status = TimeStampRespStatus.load(res.content)["status"]
    assert status["status"].native == "rejection"
    assert fail_info in status["fail_info"].native


def test_weak_digest_is_refused(client, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    doc = tmp_path / "d"
    doc.write_bytes(b"d")
    tsq = subprocess.run([openssl, "ts", "-query", "-data", str(doc), "-sha1"],
                         check=True, capture_output=True).stdout
    reply = client.post("/tsa", content=tsq, headers=TSQ).content
    status = TimeStampRespStatus.load(reply)["status"]
    assert status["status"].native == "rejection"
    assert "bad_alg" in status["fail_info"].native


def test_wrong_media_type_and_oversize_get_problems(client) -> None:
    res = client.post("/tsa", content=b"x", headers={"Content-Type": "text/plain"})
    assert res.status_code == 415
    assert res.headers["content-type"] == "application/problem+json"
    res = client.post("/tsa", content=b"\x00" * 20_000, headers=TSQ)
    assert res.status_code == 413
    assert res.json()["code"] == "payload_too_large"


def test_timestamp_endpoint_returns_a_reply_openssl_accepts(live, ctx: Context,
                                                          tmp_path: Path) -> None:
    doc = tmp_path / "factura.xml"
    doc.write_bytes(b"<factura/>")
    res = live.client().post("/signing/timestamp",
                             files={"document": ("factura.xml", doc.read_bytes())})
    assert res.status_code == 200, res.text
    tsr = tmp_path / "r.tsr"
    tsr.write_bytes(res.content)
    assert openssl_ts_verify(tsr, ctx=ctx, data=doc).returncode == 0


def test_unreachable_tsa_fails_cleanly(ctx: Context, demo_code: str) -> None:
    from tests.conftest import free_port

    dead = f"http://127.0.0.1:{free_port()}/tsa"
    with pytest.raises(TsaUnavailable):
        ctx.sealer.timestamper(dead).timestamp_data(b"x")
    with ctx.transaction() as s:
        from infra.tenancy import get_municipality

        get_municipality(s, demo_code).tsa_url = dead
    with pytest.raises(TsaUnavailable):
        ctx.sealer.timestamp(b"x", municipality_code=demo_code)


def test_client_rejects_a_token_for_another_digest(live, ctx: Context) -> None:
    stamper = HttpTimeStamper(ctx.sealer.own_tsa_url, client=httpx.Client())
    token = stamper.timestamp_digest(hashlib.sha256(b"a").digest())
    info = token["content"]["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == hashlib.sha256(b"a").digest()
    # A TSA that answers with someone else's token is treated as down, not trusted.
    class Replaying(HttpTimeStamper):
        def request_sync(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
            _, other = self.request_cms(hashlib.sha256(b"b").digest(), "sha256")
            other["nonce"] = req["nonce"]
            return super().request_sync(other)

    with pytest.raises(TsaUnavailable):
        Replaying(stamper.url, client=httpx.Client()).timestamp_data(b"a")
