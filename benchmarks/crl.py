"""CRL regeneration: the portal end to end beside cryptography's raw one-shot build, same run.

For each size (100k and 1M revoked certificates by default), rows are inserted into a temporary
SQLite instance with Core executemany, then two phases run, each in its own process so that
their peak memory does not mix:

- raw: the same (serial, revocation time, reason) list already in memory; cryptography builds
  the entries, passes the whole list to CertificateRevocationListBuilder, signs once, DER;
- portal: `services.crl.publish`: allocate the CRL number (committed), stream the revoked rows
  (serial, revoked_at, reason only), build, sign once, store the DER, audit, commit.

Targets: the portal end to end at most 3x the raw build; at most 1.5 GB peak memory at 1M.
Exit status 1 when a target is missed.
Sizes up to 200k alternate raw and portal --rounds times and keep the best time of each (the
machine is shared; the best run is the least disturbed one).
Usage: python benchmarks/crl.py [--sizes 100000,1000000] [--key-type ec-p256] [--rounds 3]
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import peak_rss_mb, print_table

TIME_TARGET = 3.0
MEMORY_BUDGET_MB = 1536.0
BATCH = 50_000
REASONS = ("keyCompromise", "superseded", "unspecified", "cessationOfOperation",
           "affiliationChanged", "privilegeWithdrawn")


def peak_mb() -> float:
    """This process's own peak resident memory (VmHWM), in MB.

    ru_maxrss would do on most systems, but Linux carries it over from the parent across
    fork and exec: a phase started by a parent that inserted a million rows would report the
    parent's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def _open_app(instance: Path):
    os.environ["PORTAL_INSTANCE"] = str(instance)
    from portal import create_app

    return create_app()


def prepare(instance: Path, size: int, key_type: str) -> None:
    """A migrated instance with a CA and `size` revoked certificate rows (Core executemany)."""
    from sqlalchemy import insert

    from portal import database
    from portal.ca.serials import random_serial, serial_to_hex
    from portal.extensions import db
    from portal.models import STATUS_REVOKED, Certificate
    from portal.services.authorities import create_ca
    from portal.services.secrets import ensure_instance_secrets

    app = _open_app(instance)
    with app.app_context():
        ensure_instance_secrets()
        database.upgrade()
        ca = create_ca("bench", key_type=key_type, actor="bench")
        now = datetime.now(UTC).replace(microsecond=0)
        rng = random.Random(size)
        table = Certificate.__table__
        for start in range(0, size, BATCH):
            rows = [
                {
                    "ca_id": ca.id, "serial": serial_to_hex(random_serial()),
                    "common_name": None, "subject": "CN=bench", "sans": "", "profile": "client",
                    "key_type": "ec-p256", "not_before": now - timedelta(days=30),
                    "not_after": now + timedelta(days=335), "status": STATUS_REVOKED,
                    "revoked_at": now - timedelta(seconds=rng.randrange(86400 * 30)),
                    "revocation_reason": REASONS[index % len(REASONS)], "created_at": now,
                }
                for index in range(start, min(size, start + BATCH))
            ]
            db.session.connection().execute(insert(table), rows)
            db.session.commit()
        db.engine.dispose()


def phase_raw(instance: Path) -> dict:
    """cryptography alone, with the list in memory: build entries, build once, sign, DER."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from sqlalchemy import select

    from portal.ca.keys import signature_hash_for
    from portal.ca.keystore import unseal_private_key
    from portal.ca.revocation import REASONS as FLAGS
    from portal.extensions import db
    from portal.models import Certificate
    from portal.services.authorities import get_ca
    from portal.services.secrets import ca_secret

    app = _open_app(instance)
    with app.app_context():
        ca = get_ca()
        certificate = x509.load_der_x509_certificate(ca.certificate_der)
        key = unseal_private_key(ca.key_encrypted, ca_secret(), bound_to=ca.certificate_der)
        table = Certificate.__table__
        rows = [
            (int(serial, 16), revoked_at.replace(tzinfo=None), reason)
            for serial, revoked_at, reason in db.session.execute(
                select(table.c.serial, table.c.revoked_at, table.c.revocation_reason))
        ]
        db.engine.dispose()
    extensions = {
        name: [x509.Extension(x509.CRLReason.oid, False, x509.CRLReason(flag))]
        for name, flag in FLAGS.items()
    }
    extensions["unspecified"] = []
    ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    now = datetime.now(UTC).replace(microsecond=0)
    start = time.perf_counter()
    revoked = [x509.RevokedCertificateBuilder(serial, when, extensions[reason]).build()
               for serial, when, reason in rows]
    crl = (
        x509.CertificateRevocationListBuilder(revoked_certificates=revoked)
        .issuer_name(certificate.subject)
        .last_update(now)
        .next_update(now + timedelta(days=7))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                       critical=False)
        .add_extension(x509.CRLNumber(1), critical=False)
        .sign(key, signature_hash_for(key))
    )
    der = crl.public_bytes(serialization.Encoding.DER)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": peak_mb(), "entries": len(crl), "bytes": len(der)}


def phase_portal(instance: Path) -> dict:
    """The portal's publish, from the database to the stored CRL."""
    from portal.services import crl as crl_service
    from portal.services.authorities import get_ca, get_signer

    app = _open_app(instance)
    with app.app_context():
        ca = get_ca()
        get_signer(ca)  # the key is loaded once per process, not per CRL
        start = time.perf_counter()
        state = crl_service.publish(ca, actor="bench")
        seconds = time.perf_counter() - start
        size = len(crl_service.stored_der(state))
    return {"seconds": seconds, "peak_mb": peak_mb(), "entries": state.revoked_count,
            "bytes": size}


def run_phase(phase: str, instance: Path) -> dict:
    """Run one phase in a fresh Python process; its JSON result."""
    result = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--instance", str(instance)],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    """Measure each size and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--key-type", default="ec-p256")
    parser.add_argument("--rounds", type=int, default=3,
                        help="Alternate raw and portal this many times (sizes up to 200k); "
                             "the best time of each counts.")
    parser.add_argument("--phase", choices=["raw", "portal"], help=argparse.SUPPRESS)
    parser.add_argument("--instance", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        runner = phase_raw if args.phase == "raw" else phase_portal
        print(json.dumps(runner(args.instance)))
        return 0

    ok = True
    memory_rows = [("budget (issue 3)", MEMORY_BUDGET_MB, "MB")]
    memory_targets = {}
    for size in (int(text) for text in args.sizes.split(",")):
        folder = Path(tempfile.mkdtemp(prefix="portal-bench-crl-"))
        try:
            instance = folder / "instance"
            instance.mkdir(mode=0o700)
            started = time.perf_counter()
            prepare(instance, size, args.key_type)
            print(f"\n{size:,} revoked rows inserted in {time.perf_counter() - started:.1f} s "
                  f"({args.key_type} CA)")
            raws, portals = [], []
            for _round in range(args.rounds if size <= 200_000 else 1):
                raws.append(run_phase("raw", instance))
                portals.append(run_phase("portal", instance))
            raw = min(raws, key=lambda result: result["seconds"])
            portal = min(portals, key=lambda result: result["seconds"])
            raw["peak_mb"] = max(result["peak_mb"] for result in raws)
            portal["peak_mb"] = max(result["peak_mb"] for result in portals)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        assert raw["entries"] == portal["entries"] == size, (raw, portal)
        print(f"CRL: {portal['bytes']:,} bytes ({portal['bytes'] / size:.1f} per entry)")
        raw_name = f"raw one-shot build+sign, {size:,}"
        portal_name = f"portal publish end to end, {size:,}"
        ok &= print_table(
            f"CRL of {size:,} entries: seconds (lower is better)",
            [(raw_name, raw["seconds"], "s"), (portal_name, portal["seconds"], "s")],
            baseline=raw_name, higher_is_better=False, targets={portal_name: TIME_TARGET},
        )
        memory_rows += [(f"raw peak memory, {size:,}", raw["peak_mb"], "MB"),
                        (f"portal peak memory, {size:,}", portal["peak_mb"], "MB")]
        memory_targets[f"portal peak memory, {size:,}"] = 1.0
    ok &= print_table("Peak memory of each phase's process (lower is better)", memory_rows,
                      baseline="budget (issue 3)", higher_is_better=False,
                      targets=memory_targets)
    print("\nall targets met" if ok else "\nTARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
