"""A batch send killed with SIGKILL at random points, again and again, then resumed.

Each run is a real ``stopncii batch run --send`` process. Half the kills land at a random time
after start (importing, scanning, drafting, sending); half land a few milliseconds after the
receiver took a notice, the window between "the platform has it" and "we wrote that down".
Between kills the database must open, and everything a receiver holds must be recorded as
'sending' or 'sent' (never 'queued': the state is committed before each network call).
At the end every notice has arrived; the API saw each idempotency key accepted once (its copies
carried the same key and the same bytes), and e-mail copies carried the same Message-ID.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from stopncii_tools.store import Store
from stopncii_tools.workflow.protect import protect_paths
from stopncii_tools.workflow.takedown import save_requester
from tests._casework import (
    PICS_HOST,
    REQUESTER,
    copies_on_site,
    intake_server,
    intake_settings,
    mailbox_server,
    site_server,
    smtp_settings,
    write_intake_platform,
    write_sending,
)

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")


def _batch_file(tmp: Path, site: Path, port: int, count: int) -> tuple[Path, Path]:
    """A case with protected photos and a requester, and a CSV of ``count`` confirmed addresses."""
    mine, names = copies_on_site(tmp, site, [501, 502, 503])
    db = tmp / "cases.db"
    with Store(db) as store:
        case = store.create_case("Killed batch", "US")
        list(protect_paths(store, case, [mine], jobs=1))
        save_requester(store, case.id, REQUESTER)
    rows = [f"{case.id},http://{PICS_HOST}:{port}/{name},yes" for name in names[:count]]
    csv = tmp / "reports.csv"
    csv.write_text("case,url,confirmed\n" + "\n".join(rows) + "\n")
    return db, csv


def _run_until_done(
    db: Path, csv: Path, seen: Callable[[], int], check: Callable[[], None], *, kills_wanted: int, seed: int,
) -> int:
    """Kill runs at random points until ``kills_wanted`` kills; then let one run finish."""
    command = [sys.executable, "-m", "stopncii_tools", "batch", "run", str(csv), "--db", str(db), "--yes", "--send",
               "--allow-private", "--resolve", f"{PICS_HOST}=127.0.0.1"]
    rng = random.Random(seed)
    kills = 0
    deadline = time.monotonic() + 60
    with db.with_name("runs.log").open("ab") as log:  # what the killed runs printed, kept for a look
        while kills < kills_wanted and time.monotonic() < deadline:
            before = seen()
            process = subprocess.Popen(command, env=os.environ.copy(), stdout=log, stderr=log)
            if rng.random() < 0.5:
                time.sleep(rng.uniform(0.6, 2.0))  # from start-up (about 0.8 s) to the last send
            else:  # just after the receiver took the next notice
                while seen() == before and process.poll() is None:
                    time.sleep(0.002)
                time.sleep(rng.uniform(0.0, 0.02))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait()
            check()
    final = subprocess.run(command, env=os.environ.copy(), capture_output=True, text=True,
                           timeout=60, check=False)
    assert final.returncode == 0, final.stderr
    return kills


def _recorded_states(db: Path) -> dict[str, str]:
    with Store(db) as store:  # opening it also proves a kill never left it unreadable
        return {n.notice_key: n.status for n in store.notices()}


def test_api_batch_killed_many_times_delivers_every_notice_exactly_once(tmp_path: Path) -> None:
    write_intake_platform()
    with site_server(tmp_path / "site") as port, intake_server(delay=0.03) as intake:
        write_sending(intake_settings(intake))
        db, csv = _batch_file(tmp_path, tmp_path / "site", port, count=15)

        def every_delivery_is_on_record() -> None:
            states = _recorded_states(db)
            for key in intake.accepted:
                assert states.get(key) in ("sending", "sent"), f"{key} arrived but is {states.get(key)}"

        kills = _run_until_done(db, csv, lambda: len(intake.received), every_delivery_is_on_record,
                                kills_wanted=12, seed=20260601)
    assert kills >= 4  # how many kills land before the batch ends depends on the machine's speed
    with Store(db) as store:
        notices = store.notices()
    assert len(notices) == 15 and {n.status for n in notices} == {"sent"}
    assert set(intake.accepted) == {n.notice_key for n in notices}  # every notice arrived, nothing else did
    for notice in notices:
        copies = [r for r in intake.received if r.key == notice.notice_key]
        assert {r.body for r in copies} == {intake.accepted[notice.notice_key][1]}  # one notice, one content
        assert notice.evidence["response_id"] == intake.accepted[notice.notice_key][0]
    repeats = len(intake.received) - len(intake.accepted)
    assert repeats <= kills  # a copy is only ever a resend after a kill


def test_email_batch_killed_many_times_loses_nothing_and_copies_share_the_message_id(tmp_path: Path) -> None:
    write_intake_platform(kind="email", address="abuse@pics.example")
    with site_server(tmp_path / "site") as port, mailbox_server() as box:
        box.delay = 0.03
        write_sending(smtp_settings(box))
        db, csv = _batch_file(tmp_path, tmp_path / "site", port, count=8)

        def every_delivery_is_on_record() -> None:
            states = _recorded_states(db)
            for message in box.messages():
                key = message["Idempotency-Key"]
                assert states.get(key) in ("sending", "sent"), f"{key} arrived but is {states.get(key)}"

        kills = _run_until_done(db, csv, lambda: len(box.raw), every_delivery_is_on_record, kills_wanted=6,
                                seed=7)
    assert kills >= 3  # how many kills land before the batch ends depends on the machine's speed
    with Store(db) as store:
        notices = store.notices()
    messages = box.messages()
    assert len(notices) == 8 and {n.status for n in notices} == {"sent"}
    assert {m["Idempotency-Key"] for m in messages} == {n.notice_key for n in notices}
    message_ids = {m["Idempotency-Key"]: set() for m in messages}  # type: dict[str, set[str]]
    for message in messages:
        message_ids[message["Idempotency-Key"]].add(message["Message-ID"])
    assert all(len(ids) == 1 for ids in message_ids.values())  # a copy is recognisable as a copy
    copies = Counter(m["Idempotency-Key"] for m in messages)
    assert sum(copies.values()) - len(copies) <= kills
    for notice in notices:
        assert notice.evidence["message_id"] in message_ids[notice.notice_key]
