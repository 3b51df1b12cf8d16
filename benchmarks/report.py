"""Writing the case report of a large case: time and peak memory per format.

The case is made directly through the store (no fetching, no hashing): ``--sightings``
sightings on a few sites, each matched to one of 20 protected items and confirmed, and
``--notices`` notices covering them, each sent by e-mail with its frozen text, a reply and a
removal check for every fifth sighting. Then the report is written in each format, timed
(wall clock, no tracing) and then written again under ``tracemalloc`` for the peak of Python
memory. CPU seconds are printed beside the wall clock: on a busy machine they are the fair
figure. The file sizes are printed too.

    python benchmarks/report.py [--sightings 10000] [--notices 1000] [--dir /tmp/stopncii-report-bench]
"""

from __future__ import annotations

import argparse
import hashlib
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stopncii_tools.store import NewNotice, SightingSource, Store
from stopncii_tools.store.rows import MediaRecord, SignalRow
from stopncii_tools.workflow.report import FORMATS, build_report, write_report

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_case(db: Path, sightings: int, notices: int) -> str:
    with Store(db) as store, store.transaction():
        case = store.create_case("Benchmark", "US")
        store.log(case.id, "requester.updated", role="self")
        items = [store.add_protected(case.id, MediaRecord("image", "jpeg", 100_000, 1200, 900, _digest(f"p{i}")),
                                     [SignalRow("pdq", 0, _digest(f"pdq{i}"), 90)], f"photo{i}.jpg")[0]
                 for i in range(20)]
        match_ids = []
        for n in range(sightings):
            url = f"https://site{n % 7}.example/media/{n:06d}.jpg"
            sighting, _ = store.add_sighting(
                case.id, SightingSource(url, url, url, f"https://site{n % 7}.example/page/{n // 10}", 200,
                                        "image/jpeg", "other", T0 + timedelta(seconds=n)),
                MediaRecord("image", "jpeg", 50_000 + n, 1200, 900, _digest(f"s{n}")), [])
            match, _ = store.record_match(case.id, sighting.id, items[n % 20].id, "copy", "high",
                                          [{"signal": "pdq", "distance": n % 31, "threshold": 31,
                                            "variant": "original"}])
            store.decide_match(match.id, "confirmed")
            match_ids.append(match.id)
            if n % 5 == 0:
                store.record_removal_check(case.id, sighting.id, "removed", T0 + timedelta(hours=30), http_status=404,
                                           detail="HTTP 404: the address no longer serves it")
        per_notice = max(1, sightings // notices)
        for k in range(notices):
            stored, _ = store.save_notice(case.id, NewNotice(
                notice_key=f"bench-{k}", platform="other", framework="take_it_down", framework_reason="US person",
                language="en", channel_kind="email", channel_address="abuse@site.example", confirmed=("s1",),
                attach_hashes=False, context=None, original_work=None, created_at=T0,
                match_ids=tuple(match_ids[k * per_notice:(k + 1) * per_notice])))
            body = (f"Subject: Removal request {k}\r\nTo: abuse@site.example\r\nMessage-ID: <{k}@bench>\r\n\r\n"
                    + "Please remove the following items.\r\n" * 40).encode()
            store.save_payload(stored.id, "email", body, 48, T0)
            queued = store.move_notice(stored, "queued", step="queue", at=T0)
            sending = store.move_notice(queued, "sending", step="claim", at=T0, attempts=1)
            attempt = store.start_attempt(stored.id, 1, "smtp", T0)
            store.finish_attempt(attempt, "delivered", T0, "250 OK")
            sent = store.move_notice(sending, "sent", step="deliver", at=T0, sent_at=T0.isoformat(),
                                     due_at=(T0 + timedelta(hours=48)).isoformat(),
                                     evidence={"message_id": f"<{k}@bench>", "deadline_hours": 48, "channel": "smtp"})
            store.move_notice(sent, "acknowledged", step="reply", at=T0 + timedelta(hours=3),
                              evidence={**sent.evidence, "replies": [{"status": "acknowledged",
                                                                      "at": (T0 + timedelta(hours=3)).isoformat(),
                                                                      "note": f"ticket {k}"}]})
        return case.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sightings", type=int, default=10_000)
    parser.add_argument("--notices", type=int, default=1_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/stopncii-report-bench"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    db = args.dir / f"case-{args.sightings}-{args.notices}.db"
    if not db.exists():
        started = time.perf_counter()
        make_case(db, args.sightings, args.notices)
        print(f"made the case in {time.perf_counter() - started:.1f} s: {db}")
    with Store(db) as store:
        [case] = store.list_cases()
        events = len(store.events(case.id))
        print(f"{args.sightings} sightings, {args.notices} notices, {events} events\n")
        print(f"{'format':<8}{'seconds':>10}{'CPU s':>8}{'peak MiB (Python)':>20}{'file MiB':>11}")
        for fmt in FORMATS:
            out = args.dir / f"report.{fmt}"
            started, cpu = time.perf_counter(), time.process_time()
            write_report(build_report(store, case.id), fmt, out)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            tracemalloc.start()
            write_report(build_report(store, case.id), fmt, out)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"{fmt:<8}{seconds:>10.1f}{cpu:>8.1f}{peak / 2**20:>20.1f}{out.stat().st_size / 2**20:>11.1f}")


if __name__ == "__main__":
    main()
