"""The removal check for every kind of match, against a real web server on 127.0.0.1.

For each kind (exact, PDQ copy, pHash-family copy, part of a photo, a fake derived from one, a
video clip) a notice is sent about a copy on the site. Then the host re-encodes the copy in
place (new bytes, the same picture, as every CDN does): the check must say it is still there
and the notice stays open. Then the host deletes it: the check records the removal and the
notice moves to removed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from stopncii_tools.cli import cli
from stopncii_tools.matching import CaseMatcher
from stopncii_tools.media.samples import body_replaced, screenshot
from stopncii_tools.notices import render_statements
from stopncii_tools.notices.platforms import load_directory
from stopncii_tools.signals._examples import clip, encode, scene
from stopncii_tools.signals.hashing import hash_bytes
from stopncii_tools.store import Store
from stopncii_tools.workflow.protect import protect_paths
from stopncii_tools.workflow.scan import ScanOptions, scan_sources
from stopncii_tools.workflow.takedown import plan_notices, save_plan
from tests._casework import PICS_HOST, REQUESTER, site_server, write_intake_platform
from tests.test_regions import photo

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
RESOLVE = ("--allow-private", "--resolve", f"{PICS_HOST}=127.0.0.1")
VIDEO_SIZE = (320, 240)


def run(*args: str, at: datetime) -> Result:
    return CliRunner().invoke(cli, list(args), env={"STOPNCII_NOW": at.isoformat()})


def checked(db: Path, at: datetime) -> dict:  # type: ignore[type-arg]
    result = run("check", "--db", str(db), *RESOLVE, "--json", at=at)
    assert result.exit_code == 0, result.output
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    return record


def _reencode_picture(data: bytes) -> bytes:
    """What a CDN does: decode, shrink a little, save as JPEG at another quality."""
    with Image.open(io.BytesIO(data)) as img:
        shown = img.convert("RGB")
    return encode(shown.resize((round(shown.width * 0.9), round(shown.height * 0.9))), quality=60)


def _reencode_video(data: bytes) -> bytes:
    from stopncii_tools.media.video import DecodedVideo

    frames = [Image.fromarray(frame.pixels) for frame in DecodedVideo(data, fps=None)]
    return clip(frames, rate=5, crf=35, size=(288, 216))


@dataclass(frozen=True)
class Kind:
    """Protected files, the copy a host serves, how it finds the match, how the host re-encodes."""

    protected: Callable[[], dict[str, bytes]]
    served: Callable[[], bytes]
    kind: str
    signals: frozenset[str]  # the signals whose evidence decided the match
    reencode: Callable[[bytes], bytes] = _reencode_picture
    extra: str | None = None  # the module of an optional extra the kind needs
    kind_after: str | None = None  # the kind the re-encoded copy matches as, when not ``kind``


def _scenes(start: int) -> list[Image.Image]:
    return [scene(start + i // 5, VIDEO_SIZE) for i in range(40)]  # 8 s, a new scene a second


KINDS = {
    "exact": Kind(lambda: {"p.jpg": encode(scene(601), quality=92)}, lambda: encode(scene(601), quality=92),
                  "exact", frozenset({"sha256", "md5"}), kind_after="copy"),
    "pdq copy": Kind(lambda: {"p.jpg": encode(scene(602), quality=92)},
                     lambda: encode(scene(602).resize((400, 300)), quality=75), "copy", frozenset({"pdq"})),
    "phash-family copy": Kind(lambda: {"p.jpg": encode(scene(603), quality=92)},
                              lambda: encode(scene(603).crop((40, 30, 600, 450)), quality=75),
                              "copy", frozenset({"phash", "dhash", "whash"})),
    "partial": Kind(lambda: {"p.jpg": encode(photo(604), quality=92)}, lambda: encode(screenshot(photo(604))),
                    "partial", frozenset({"regions"}), extra="cv2"),
    "derived": Kind(lambda: {"p.jpg": encode(photo(605), quality=92)},
                    lambda: encode(body_replaced(photo(605), photo(606))), "derived", frozenset({"regions"}),
                    extra="cv2"),
    "video clip": Kind(lambda: {"v.mp4": clip(_scenes(610))}, lambda: clip(_scenes(610)[10:35], crf=28),
                       "copy", frozenset({"vpdq"}), reencode=_reencode_video, extra="av"),
}


@pytest.mark.parametrize("name", list(KINDS))
def test_a_re_encoded_copy_stays_open_and_a_deleted_one_is_removed(name: str, tmp_path: Path) -> None:
    kind = KINDS[name]
    if kind.extra:
        pytest.importorskip(kind.extra, reason=f"the extra that finds a {name} is not installed")
    write_intake_platform()
    site, mine, db = tmp_path / "site", tmp_path / "mine", tmp_path / "cases.db"
    mine.mkdir()
    for file_name, data in kind.protected().items():
        (mine / file_name).write_bytes(data)
    suffix = ".mp4" if name == "video clip" else ".jpg"
    served = site / f"copy{suffix}"
    with site_server(site) as port:
        served.write_bytes(kind.served())
        url = f"http://{PICS_HOST}:{port}/{served.name}"
        with Store(db) as store:
            case = store.create_case("Removal check", "US")
            list(protect_paths(store, case, [mine], jobs=1))
            [outcome] = scan_sources(store, case, [url], ScanOptions(allow_private=True, hosts={PICS_HOST: "127.0.0.1"}))
            [match] = outcome.matches
            assert match.kind == kind.kind and {e["signal"] for e in match.evidence} & kind.signals, match
            store.decide_match(match.id, "confirmed")
            store.set_requester(case.id, REQUESTER)
            plan = plan_notices(store, case, load_directory(), REQUESTER)
            plan.notices = [(n.with_confirmed(s for s, _ in render_statements(n)), w, i) for n, w, i in plan.notices]
            save_plan(store, case, plan)
            matcher = CaseMatcher.for_case(store, case.id)
        sent = run("notice", "mark-sent", "1", "--ticket", "T-1", "--db", str(db), at=T0)
        assert sent.exit_code == 0, sent.output

        served.write_bytes(kind.reencode(served.read_bytes()))  # the host re-encodes it in place
        still = checked(db, T0 + timedelta(hours=1))
        assert (still["outcome"], still["notice_status"]) == ("present", "sent"), still
        assert "still shows the picture" in still["detail"]
        # the case's own matcher finds the re-encoded copy, with the kind it had when reported
        again = matcher.match(hash_bytes(served.read_bytes(), on_request=matcher.on_request).signals)
        assert [m.kind for m in again] == [kind.kind_after or kind.kind]

        served.unlink()  # the host takes it down
        gone = checked(db, T0 + timedelta(hours=2))
    assert (gone["outcome"], gone["http_status"], gone["notice_status"]) == ("removed", 404, "removed"), gone
