"""``python -m bench.registry``: registrations with sealed receipts per second.

Builds a throw-away deployment (demo PKI, a private PostgreSQL schema, Redis) and
serves it with ``uvicorn api.asgi:app`` as 1 and then 2 worker processes. Many
concurrent clients submit entries over HTTP; each registration numbers the entry,
appends its log leaf and seals its receipt (PAdES B-T + XAdES B-T, time-stamped by
the workers' own ``/tsa``) in one transaction. Reported per worker count:

- entries per second (wall clock, all clients);
- the share of the run spent sealing: registrations of one municipality are
  serialised by its log head, so the sum of every response's
  ``Server-Timing: seal;dur=…`` over the wall time is the part of that single
  timeline taken by sealing;
- the ratio to the bare seal throughput: one PAdES B-T plus one XAdES B-T of the
  same receipt, sealed back to back in-process with ``Context.sealer`` (the
  ``eLocal Python B-T`` contender of ``bench.seal``);
- peak memory: the high-water resident set (``VmHWM`` in ``/proc/<pid>/status``)
  of the largest process of the server's process group (a worker, or the
  supervisor), and the sum over the group, read just before the server stops.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
_TIMING = re.compile(r"(\w+);dur=([0-9.]+)")


@dataclass
class Result:
    workers: int
    entries: int
    seconds: float
    per_second: float
    seal_share: float
    ratio_to_bare_seal: float = 0.0
    #: High-water RSS of the largest server process, and summed over all of them (MiB).
    peak_rss_mib: float = 0.0
    total_peak_rss_mib: float = 0.0


def _schema_url(url: str, schema: str) -> str:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}
                                           ).render_as_string(hide_password=False)


def _drop_schema(url: str, schema: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Workers:
    """``uvicorn api.asgi:app --workers N`` as a process group of its own."""

    def __init__(self, env: dict[str, str], port: int, workers: int) -> None:
        args = [sys.executable, "-m", "uvicorn", "api.asgi:app", "--host", "127.0.0.1",
                "--port", str(port), "--log-level", "warning", "--workers", str(workers)]
        self.proc = subprocess.Popen(args, cwd=REPO, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.2)

    def peak_rss_mib(self) -> list[float]:
        """``VmHWM`` of every live process of the group (supervisor and workers), in MiB."""
        peaks = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                pid = int(status.parent.name)
                if os.getpgid(pid) != self.proc.pid:
                    continue
                fields = dict(line.split(":", 1) for line in status.read_text().splitlines()
                              if ":" in line)
            except (OSError, ValueError):
                continue  # the process ended meanwhile, or is not ours to read
            if "VmHWM" in fields:
                peaks.append(int(fields["VmHWM"].split()[0]) / 1024)
        return peaks

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _submit(url: str, sid: str, code: str, n: int) -> tuple[int, float, float]:
    from identity.sessions import SESSION_COOKIE

    entry = {"epigrafe": "Instancia general", "subject": f"Solicitud {n}",
             "destination_unit": "LA0099902", "expone": "Expone " * 20,
             "solicita": "Solicita " * 10}
    files: list[tuple[str, Any]] = [
        ("entry", (None, json.dumps(entry))),
        ("attachments", ("nota.txt", f"nota {n}".encode(), "text/plain")),
    ]
    with httpx.Client(base_url=url, timeout=600, cookies={SESSION_COOKIE: sid}) as c:
        r = c.post(f"/registry/{code}/entries", files=files)
    timing = dict(_TIMING.findall(r.headers.get("server-timing", "")))
    return r.status_code, float(timing.get("seal", 0)), float(timing.get("register", 0))


def run(entries: int, clients: int, worker_counts: list[int], database_url: str,
        redis_url: str) -> list[Result]:
    from api.context import Context
    from api.demo import DEMO_CODE, initialise
    from api.settings import Settings
    from identity.sessions import Principal

    def principal(code: str, nif: str) -> Principal:
        return Principal(subject=f"bench:{nif}", capacity="citizen",
                         identity={"nif": nif, "name": f"Persona {nif}"}, loa="high", roles=(),
                         municipality_code=code, amr=("x509",), auth_time=int(time.time()))

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    db = _schema_url(database_url, schema)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="elocal-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", database_url=db, redis_url=redis_url,
                            redis_prefix=f"elocal-bench-{uuid.uuid4().hex[:8]}:",
                            http_port=port, public_url=url)
        ctx = Context(settings)
        try:
            initialise(ctx, demo=True)
            env = dict(os.environ, PYTHONPATH=str(REPO), ELOCAL_DATA_DIR=str(settings.data_dir),
                       ELOCAL_DATABASE_URL=db, ELOCAL_REDIS_URL=redis_url,
                       ELOCAL_REDIS_PREFIX=settings.redis_prefix, ELOCAL_PUBLIC_URL=url)
            sids = [ctx.login_sessions.open(principal(DEMO_CODE, f"{20000000 + i}B"))
                    for i in range(clients)]
            bare = 0.0
            for workers in worker_counts:
                server = Workers(env, port, workers)
                try:
                    for i in range(4):  # warm up keys, pools and the TSA in every worker
                        _submit(url, sids[i % len(sids)], DEMO_CODE, -i)
                    started = time.monotonic()
                    with ThreadPoolExecutor(clients) as pool:
                        out = list(pool.map(lambda n: _submit(url, sids[n % len(sids)],
                                                              DEMO_CODE, n), range(entries)))
                    seconds = time.monotonic() - started
                    peaks = server.peak_rss_mib()
                    if not bare:
                        bare = _bare_seal_rate(ctx, DEMO_CODE)
                finally:
                    server.close()
                failed = [s for s, _, _ in out if s != 201]
                if failed:
                    raise RuntimeError(f"{len(failed)} registrations failed: {failed[:5]}")
                # Registrations of one municipality are serialised by its log head, so the
                # run's wall time is one timeline: the sealing share is its part of it.
                seal = sum(x for _, x, _ in out) / 1000
                rate = entries / seconds
                results.append(Result(workers, entries, seconds, rate, min(1.0, seal / seconds),
                                      rate / bare if bare else 0.0,
                                      max(peaks, default=0.0), sum(peaks)))
            print(f"bare seal (PAdES B-T + XAdES B-T of one receipt, in-process): "
                  f"{bare:.2f}/s")
        finally:
            ctx.close()
            _drop_schema(database_url, schema)
    return results


def _bare_seal_rate(ctx: Any, code: str, rounds: int = 20) -> float:
    """Seal one real receipt's PDF and XML back to back, as the registry does."""
    from registry import receipts
    from registry.log import latest_checkpoint
    from registry.models import RegistryEntry
    from registry.receiptpdf import STAMP_BOX
    from signing.pades import Stamp

    with ctx.sessions() as s:
        entry = s.scalars(select(RegistryEntry).where(RegistryEntry.municipality_code == code)
                          .limit(1)).one()
        muni_name = entry.municipality_code
        note = latest_checkpoint(s, code).note
        f = receipts.facts(entry, municipality_name=muni_name, municipality_cif=None,
                           office_name="Oficina", unit_names={}, checkpoint=note,
                           verification_url=ctx.registry.verification_url(
                               entry.verification_code))
    pdf, xml = receipts.render_pdf(f), receipts.render_xml(f)
    stamp = Stamp(municipality=muni_name, verification_code=entry.verification_code,
                  verification_url=f["verification"]["url"], page=-1, box=STAMP_BOX)
    ctx.sealer.seal_pdf(code, pdf, level="B-T", stamp=stamp)
    started = time.perf_counter()
    for _ in range(rounds):
        ctx.sealer.seal_pdf(code, pdf, level="B-T", stamp=stamp)
        ctx.sealer.seal_xml(code, xml, level="B-T", packaging="enveloped")
    return rounds / (time.perf_counter() - started)


def report(results: list[Result]) -> str:
    lines = ["workers  entries  seconds  entries/s  sealing share  vs bare seal"
             "  peak RSS/process  peak RSS total",
             "-------  -------  -------  ---------  -------------  ------------"
             "  ----------------  --------------"]
    for r in results:
        lines.append(f"{r.workers:>7}  {r.entries:>7}  {r.seconds:>7.1f}  {r.per_second:>9.2f}"
                     f"  {r.seal_share:>12.0%}  {r.ratio_to_bare_seal:>11.2f}x"
                     f"  {r.peak_rss_mib:>12.0f} MiB  {r.total_peak_rss_mib:>10.0f} MiB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.registry", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=300, help="registrations per run")
    parser.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (40 entries)")
    parser.add_argument("--database-url", default=os.environ.get(
        "ELOCAL_BENCH_DATABASE_URL", DEFAULT_DB), help="PostgreSQL (a private schema is used)")
    parser.add_argument("--redis-url", default=os.environ.get(
        "ELOCAL_BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    entries = 40 if args.quick else args.entries
    results = run(entries, args.clients, [int(w) for w in args.workers.split(",")],
                  args.database_url, args.redis_url)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
