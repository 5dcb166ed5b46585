"""Sealing throughput: eLocal (Python API and HTTP API) against bare pyHanko and signxml.

Run ``python -m bench.seal`` (``--quick`` for a smoke run, ``--json FILE`` to keep the
figures). It builds a throw-away deployment (demo PKI, SQLite) in a temporary folder,
serves it with uvicorn on a free port, and seals, in one run:

- a 1-page PDF and a 10 MB PDF (PAdES B-B, and B-T through eLocal's own TSA);
- a 10 KB and a 1 MB XML document (XAdES B-B enveloped, and B-T).

Baselines are the bare libraries with the same key: pyHanko's stock ``SimpleSigner``
(which re-parses the private key on every signature) and a ``SimpleSigner`` that keeps
the parsed key, each at B-B and at B-T with the very TSA eLocal's seals use; signxml
given PEM bytes (stock usage) and given a loaded key, at B-B. Ratios compare each row
with the baselines of its own level. For each
case it prints seals per second, eLocal's ratio to each baseline and the peak Python
memory (tracemalloc) of one seal.
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.samples import make_pdf, make_xml

MB = 1024 * 1024


@dataclass
class Result:
    case: str
    runner: str
    seals: int
    seconds: float
    peak_bytes: int

    @property
    def per_second(self) -> float:
        return self.seals / self.seconds if self.seconds else 0.0


def _measure_interleaved(runners: dict[str, Callable[[], Any]], *, seconds: float,
                         rounds: int) -> dict[str, tuple[int, float]]:
    """Seals and elapsed time per runner, interleaved in rounds.

    Running every contender in each round (rather than one after the other) spreads
    any background load on the machine evenly over them, so the ratios stay fair.
    """
    batch: dict[str, int] = {}
    for label, fn in runners.items():
        fn()  # warm-up: imports, caches, connection pools
        start = time.perf_counter()
        fn()
        one = max(time.perf_counter() - start, 1e-4)
        batch[label] = max(1, int(seconds / rounds / one))
    totals = {label: [0, 0.0] for label in runners}
    for _ in range(rounds):
        for label, fn in runners.items():
            start = time.perf_counter()
            for _ in range(batch[label]):
                fn()
            totals[label][0] += batch[label]
            totals[label][1] += time.perf_counter() - start
    return {label: (int(n), float(t)) for label, (n, t) in totals.items()}


def _peak(fn: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Deployment:
    """A temporary eLocal with the demo PKI, served over HTTP in this process."""

    def __init__(self, workdir: Path) -> None:
        import uvicorn

        from api.app import create_app
        from api.context import Context
        from api.demo import DEMO_CODE, initialise
        from api.settings import Settings

        port = _free_port()
        self.settings = Settings(data_dir=workdir / "data", http_port=port,
                                 public_url=f"http://127.0.0.1:{port}",
                                 max_document_bytes=64 * MB)
        self.ctx = Context(self.settings)
        initialise(self.ctx, demo=True)
        self.code = DEMO_CODE
        app = create_app(ctx=self.ctx, migrate=False)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        import httpx

        from identity.client import challenge_login

        self.http = httpx.Client(base_url=self.settings.public_url, timeout=120)
        # Sealing over HTTP is for registrars: log in as the demo one, as a sede would.
        employee = self.ctx.pki.person("employee")
        challenge_login(self.http, self.code, employee.certificate, employee.key)

    def close(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.ctx.sealer.close()
        self.ctx.close()


def _bare_pades(key_path: Path, cert_path: Path, tsa_respond: Callable[[bytes], bytes]
                ) -> dict[str, Callable[[bytes], bytes]]:
    from asn1crypto import tsp
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.timestamps import TimeStamper

    class SameTsa(TimeStamper):
        """pyHanko's stock timestamper logic, answered by the TSA eLocal's seals use."""

        async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
            return tsp.TimeStampResp.load(tsa_respond(req.dump()))

    stock = signers.SimpleSigner.load(str(key_path), str(cert_path))
    assert stock is not None

    class KeptKeySigner(signers.SimpleSigner):
        """The usual fix: parse the key once and sign with the parsed object."""

        def __init__(self, base: signers.SimpleSigner) -> None:
            super().__init__(base.signing_cert, base.signing_key, base.cert_registry)
            self._parsed = serialization.load_der_private_key(base.signing_key.dump(), None)

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            from cryptography.hazmat.primitives.asymmetric import padding
            from pyhanko_certvalidator.util import get_pyca_cryptography_hash

            return self._parsed.sign(data, padding.PKCS1v15(),  # type: ignore[union-attr,call-arg]
                                     get_pyca_cryptography_hash(digest_algorithm))

    kept = KeptKeySigner(stock)

    def sign_with(signer: signers.Signer, timestamper: TimeStamper | None = None
                  ) -> Callable[[bytes], bytes]:
        def run(pdf: bytes) -> bytes:
            meta = signers.PdfSignatureMetadata(field_name="Sig", md_algorithm="sha256",
                                                subfilter=fields.SigSeedSubFilter.PADES)
            out = io.BytesIO()
            signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), meta, signer=signer,
                             timestamper=timestamper, output=out)
            return out.getvalue()
        return run

    same_tsa = SameTsa()
    return {"pyHanko stock B-B": sign_with(stock), "pyHanko cached key B-B": sign_with(kept),
            "pyHanko stock B-T": sign_with(stock, same_tsa),
            "pyHanko cached key B-T": sign_with(kept, same_tsa)}


def _bare_xades(key_path: Path, cert_path: Path) -> dict[str, Callable[[bytes], bytes]]:
    from cryptography.hazmat.primitives import serialization
    from lxml import etree
    from signxml.xades import XAdESSigner

    key_pem = key_path.read_bytes()
    cert_pem = cert_path.read_bytes()
    key_obj = serialization.load_pem_private_key(key_pem, None)

    def sign_with(key: Any) -> Callable[[bytes], bytes]:
        def run(xml: bytes) -> bytes:
            root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False))
            return etree.tostring(XAdESSigner().sign(root, key=key, cert=cert_pem))
        return run

    return {"signxml stock (PEM) B-B": sign_with(key_pem),
            "signxml cached key B-B": sign_with(key_obj)}


def _runners(dep: Deployment, fmt: str, doc: bytes,
             baselines: dict[str, Callable[[bytes], bytes]]) -> dict[str, Callable[[], Any]]:
    sealer = dep.ctx.sealer
    runners: dict[str, Callable[[], Any]] = {}
    for level in ("B-B", "B-T"):
        if fmt == "pades":
            runners[f"eLocal Python {level}"] = (
                lambda lv=level: sealer.seal_pdf(dep.code, doc, lv))
        else:
            runners[f"eLocal Python {level}"] = (
                lambda lv=level: sealer.seal_xml(dep.code, doc, lv))

        def over_http(lv: str = level) -> bytes:
            res = dep.http.post("/signing/seal",
                                data={"municipality": dep.code, "format": fmt, "level": lv},
                                files={"document": ("doc", doc)})
            res.raise_for_status()
            return res.content

        runners[f"eLocal HTTP {level}"] = over_http
    for label, fn in baselines.items():
        runners[label] = lambda fn=fn: fn(doc)
    return runners


def run(quick: bool = False) -> list[Result]:
    seconds, rounds = (0.6, 2) if quick else (4.0, 5)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="elocal-bench-") as tmp:
        dep = Deployment(Path(tmp))
        try:
            key_path, chain_path, _ = dep.ctx.pki.seal_paths(dep.code)
            cert_path = Path(tmp) / "seal-leaf.pem"
            cert_path.write_bytes(chain_path.read_bytes().split(b"-----END CERTIFICATE-----")[0]
                                  + b"-----END CERTIFICATE-----\n")
            docs = {
                "PDF 1 page": ("pades", make_pdf(1)),
                "PDF 10 MB": ("pades", make_pdf(1, image_bytes=10 * MB)),
                "XML 10 KB": ("xades", make_xml(10 * 1024)),
                "XML 1 MB": ("xades", make_xml(MB)),
            }
            bare = {"pades": _bare_pades(key_path, cert_path, dep.ctx.tsa.respond),
                    "xades": _bare_xades(key_path, cert_path)}
            for name, (fmt, doc) in docs.items():
                runners = _runners(dep, fmt, doc, bare[fmt])
                timed = _measure_interleaved(runners, seconds=seconds, rounds=rounds)
                for label, fn in runners.items():
                    seals, secs = timed[label]
                    results.append(Result(name, label, seals, secs, _peak(fn)))
                    print(f"  {name:11} {label:24} {seals / secs:8.1f} seals/s",
                          file=sys.stderr)
        finally:
            dep.close()
    return results


def report(results: list[Result]) -> str:
    lines = [f"{'document':11} {'runner':24} {'seals/s':>8} {'ms/seal':>8} {'peak MiB':>9} "
             f"{'vs stock':>9} {'vs cached':>9}"]
    for r in results:
        # Like with like: a B-T seal is compared with bare B-T signing through the same TSA.
        level = r.runner.rsplit(" ", 1)[-1]
        base = {x.runner: x.per_second for x in results
                if x.case == r.case and x.runner.endswith(f" {level}")}
        stock = next((v for k, v in base.items() if "stock" in k), None)
        cached = next((v for k, v in base.items() if "cached" in k), None)
        ratio_stock = f"{r.per_second / stock:8.2f}x" if stock else "-"
        ratio_cached = f"{r.per_second / cached:8.2f}x" if cached else "-"
        lines.append(f"{r.case:11} {r.runner:24} {r.per_second:8.1f} "
                     f"{1000 / r.per_second if r.per_second else 0:8.1f} "
                     f"{r.peak_bytes / MB:9.1f} {ratio_stock:>9} {ratio_cached:>9}")
    lines.append("peak MiB: Python heap of one seal (tracemalloc), not process RSS; a "
                 "ratio of - means no bare baseline at that level (signxml has no B-T).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.seal", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    results = run(quick=args.quick)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(
            [asdict(r) | {"per_second": r.per_second} for r in results], indent=2))


if __name__ == "__main__":
    main()
