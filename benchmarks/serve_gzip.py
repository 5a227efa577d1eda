"""gzip decode time versus body size, before and after, and what a CPU-bomb body does to
``otel-flywheel serve``'s answers to everyone else.

1. In one process, the previous decoder (a verbatim copy below, ``decompress_before``) and the
   current one (``otel_flywheel.server._body.decompress``) on the same bodies, best of
   ``--repeats``:
   - *many empty members*: bodies made of empty gzip members (20 bytes each), 256 KiB to 4 MiB.
     The current decoder refuses them at its member cap (400); it is also timed with the cap
     lifted, to show that decoding itself is now linear in the body size;
   - *normal*: one gzip member holding an OTLP protobuf request of real SDK spans, 64 KiB to
     16 MiB inflated: the common case must not get slower.
2. Against real servers (subprocesses; ``--src`` runs the first from another checkout): the
   latency of valid gzip requests alone, then while two senders post ``--bomb-mib`` MiB bodies of
   empty members back to back, for ``--attack-seconds``.

No timing is asserted.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_flywheel.server import MAX_GZIP_MEMBERS
from otel_flywheel.server._body import ClientError, decompress
from otel_flywheel.testing.phoenix import find_free_port

KIB = 1024
MIB = 1024 * KIB
SERVE = [str(Path(sys.executable).with_name("otel-flywheel")), "serve"]
EMPTY_MEMBER = gzip.compress(b"")
PROTOBUF_GZIP = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}


class _BeforeError(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


def decompress_before(body: bytes, encoding: str, *, limit: int) -> bytes:
    """The decoder as it was before (main at 5d5a6d5): a fresh decompressor per gzip member,
    each handed the whole rest of the body (``unused_data`` copies it)."""
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    out = bytearray()
    data = body
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
        except zlib.error:
            raise _BeforeError(400) from None
        if len(out) > limit:
            raise _BeforeError(413)
        if not inflater.eof:
            raise _BeforeError(400)
        data = inflater.unused_data
        if not data or wbits != 16 + zlib.MAX_WBITS:
            if data:
                raise _BeforeError(400)
            return bytes(out)


def otlp_payload(inflated_bytes: int) -> bytes:
    """An OTLP protobuf request of real SDK spans, about ``inflated_bytes`` long."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "agent"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    text = "The order A-1029384756 shipped on Monday; tracking 1Z999AA10123456784. " * 8
    spans = 0
    while spans * 700 < inflated_bytes:
        with tracer.start_as_current_span("tool", attributes={"output.value": text}):
            spans += 1
    provider.shutdown()
    return encode_spans(memory.get_finished_spans()).SerializeToString()[:inflated_bytes]


def best_seconds(call: Callable[[], object], repeats: int) -> tuple[float, str]:
    times, outcome = [], "200"
    for _ in range(repeats):
        started = time.perf_counter()
        try:
            call()
        except ClientError as error:
            outcome = str(error.status)
        except _BeforeError as error:
            outcome = str(error.status)
        times.append(time.perf_counter() - started)
    return min(times), outcome


def decode_section(repeats: int) -> None:
    limit = 64 * MIB
    print("1. decode time, best of", repeats, "(outcome: 200 decoded, 400 refused)")
    print("   many empty gzip members:")
    print("   body      members   before               after (cap 64)       after, no cap")
    for size in (256 * KIB, MIB, 2 * MIB, 4 * MIB):
        body = EMPTY_MEMBER * (size // len(EMPTY_MEMBER))
        before, before_status = best_seconds(
            lambda body=body: decompress_before(body, "gzip", limit=limit), repeats
        )
        after, after_status = best_seconds(
            lambda body=body: decompress(body, "gzip", limit=limit), repeats
        )
        uncapped, uncapped_status = best_seconds(
            lambda body=body: decompress(body, "gzip", limit=limit, max_members=10**9), repeats
        )
        print(
            f"   {size // KIB:>5} KiB {size // len(EMPTY_MEMBER):>9} "
            f"{before * 1000:>10.1f} ms ({before_status})"
            f"{after * 1000:>11.3f} ms ({after_status})"
            f"{uncapped * 1000:>11.1f} ms ({uncapped_status})"
        )
    print(f"   one member holding an OTLP request (normal), best of {repeats * 5}:")
    print("   inflated  on the wire  before        after         after / before")
    for size in (64 * KIB, MIB, 4 * MIB, 16 * MIB):
        body = gzip.compress(otlp_payload(size))
        before, _ = best_seconds(
            lambda body=body: decompress_before(body, "gzip", limit=limit), repeats
        )
        after, _ = best_seconds(lambda body=body: decompress(body, "gzip", limit=limit), repeats)
        print(
            f"   {size // KIB:>6} KiB {len(body) // KIB:>8} KiB {before * 1000:>9.2f} ms "
            f"{after * 1000:>9.2f} ms {after / before:>12.2f}"
        )
    print(f"   (cap: MAX_GZIP_MEMBERS = {MAX_GZIP_MEMBERS})")


def start_serve(src: Path | None, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = find_free_port()
    env = {**os.environ, "FLYWHEEL_STATE_DIR": str(log.parent / f"state-{port}")}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*SERVE, "--port", str(port), "--pipeline", "otel_flywheel.capture:LoggingPipeline"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return process, base_url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"serve did not start; see {log}")


def latencies(base_url: str, seconds: float) -> list[float]:
    body = gzip.compress(otlp_payload(64 * KIB))
    taken: list[float] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=300) as client:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = client.post(f"{base_url}/v1/traces", content=body, headers=PROTOBUF_GZIP)
            taken.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
            time.sleep(0.05)
    return taken


def attack_section(src: Path | None, bomb_mib: int, seconds: float) -> None:
    print(f"2. valid 64 KiB gzip requests, alone and while 2 senders post {bomb_mib} MiB bombs")
    bomb = EMPTY_MEMBER * (bomb_mib * MIB // len(EMPTY_MEMBER))
    for label, checkout in (("before", src), ("after", None)):
        if label == "before" and src is None:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            process, base_url = start_serve(checkout, Path(tmp) / "serve.log")
            try:
                alone = latencies(base_url, seconds / 3)
                stop = threading.Event()
                answers: list[int] = []

                def attack(
                    stop: threading.Event = stop, answers: list[int] = answers, url: str = base_url
                ) -> None:
                    with httpx.Client(timeout=600) as client:
                        while not stop.is_set():
                            try:
                                response = client.post(
                                    f"{url}/v1/traces", content=bomb, headers=PROTOBUF_GZIP
                                )
                                answers.append(response.status_code)
                            except httpx.TransportError:
                                return

                attackers = [threading.Thread(target=attack, daemon=True) for _ in range(2)]
                for thread in attackers:
                    thread.start()
                time.sleep(1.0)  # the bombs are being uploaded and decoded
                during = latencies(base_url, seconds)
                stop.set()
            finally:
                process.kill()
                process.wait(30)
        print(
            f"   {label:<6} alone: median {statistics.median(alone) * 1000:7.1f} ms, max "
            f"{max(alone) * 1000:7.1f} ms | under attack: median "
            f"{statistics.median(during) * 1000:7.1f} ms, max {max(during) * 1000:7.1f} ms "
            f"({len(during)} requests); bombs answered: {len(answers)} "
            f"({', '.join(sorted(set(map(str, answers)))) or 'none within the run'})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bomb-mib", type=int, default=4)
    parser.add_argument("--attack-seconds", type=float, default=15.0)
    parser.add_argument("--src", type=Path, help="run the 'before' server from this checkout")
    args = parser.parse_args()
    print("otel-flywheel gzip benchmark")
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"python {platform.python_version()}, zlib {zlib.ZLIB_RUNTIME_VERSION}, "
        f"{platform.system()} {platform.machine()}, os.cpu_count()={os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    decode_section(args.repeats)
    attack_section(args.src, args.bomb_mib, args.attack_seconds)
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
