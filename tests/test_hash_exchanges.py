"""Our exports as python-threatexchange (pytx) itself loads them, and scans of the files these systems write.

Each export is read by pytx's own code: the ``hashlist`` file by its local-file exchange, the
``stopncii-json`` envelope by its StopNCII client over a loopback HTTP server. The photos and
videos are real files (Pillow JPEGs, H.264 MP4s made with PyAV), protected as a person would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image, ImageDraw
from threatexchange.exchanges.clients.stopncii.api import StopNCIIAPI, StopNCIICaseStatus
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI
from threatexchange.exchanges.impl.stop_ncii_api import StopNCIISignalExchangeAPI
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPIWithSimpleUpdates
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.pdq_index import PDQIndex
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.signal_base import SignalType

from stopncii_tools.cli import cli
from stopncii_tools.media.samples import write_photos
from stopncii_tools.signals._examples import scene
from stopncii_tools.store import Store
from stopncii_tools.workflow.protect import protect_paths

SIGNAL_TYPES: list[type[SignalType]] = [PdqSignal, VideoMD5Signal]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def write_video(path: Path, seed: int) -> None:
    """A real half-second H.264 MP4 of generated scenes."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height = 160, 120
        stream.pix_fmt = "yuv420p"
        for i in range(5):
            for packet in stream.encode(av.VideoFrame.from_image(scene(seed + i, (160, 120)))):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    """Case A: three photos and two videos. Case B: one of the photos and one of the videos."""
    folder = tmp_path_factory.mktemp("mine")
    write_photos(folder, [441, 442, 443])
    write_video(folder / "clip1.mp4", 600)
    write_video(folder / "clip2.mp4", 700)
    db = folder.parent / "cases.db"
    with Store(db) as store:
        a = store.create_case("A", "US")
        b = store.create_case("B", "DE")
        list(protect_paths(store, a, [folder], jobs=1))
        list(protect_paths(store, b, [folder / "photo442.jpg", folder / "clip2.mp4"], jobs=1))
        assert sorted(item.kind for item in store.protected_items(a.id)) == ["image"] * 3 + ["video"] * 2
    return db, folder, a.id, b.id


def assert_loaded_and_matching(loaded: dict[type[SignalType], dict[str, Any]], exported_pdqs: set[str], folder: Path,
                               tmp_path: Path) -> None:
    """Every exported hash loaded; pytx's own hashes of the files and of a platform's copy match them."""
    assert set(loaded[PdqSignal]) == exported_pdqs and len(exported_pdqs) == 3
    assert set(loaded[VideoMD5Signal]) == {VideoMD5Signal.hash_from_file(p) for p in folder.glob("*.mp4")}
    assert len(loaded[VideoMD5Signal]) == 2
    index = PDQIndex(list(loaded[PdqSignal].items()))
    for photo in folder.glob("*.jpg"):  # pytx hashes the file itself, as a platform's hasher would
        assert index.query(PdqSignal.hash_from_file(photo)), photo.name
    copy_hash = reencoded_copy(folder, tmp_path / "platform-copy.jpg")
    assert any(PdqSignal.compare_hash(h, copy_hash).match for h in loaded[PdqSignal])


def reencoded_copy(folder: Path, target: Path) -> str:
    """A copy of photo443 as a platform might store it: smaller, and JPEG quality 60; pytx's PDQ of it."""
    with Image.open(folder / "photo443.jpg") as original:
        original.resize((640, 480)).save(target, quality=60)
    copy_hash = PdqSignal.hash_from_file(target)
    assert copy_hash  # pytx gives "" for a picture below its quality threshold
    return copy_hash


def loaded_signals(
    api: SignalExchangeAPIWithSimpleUpdates[Any, Any, Any], collab: CollaborationConfigBase,
) -> dict[type[SignalType], dict[str, Any]]:
    """Fetch everything from a pytx exchange and index it by signal type, as pytx's own CLI does."""
    merged: dict[tuple[str, str], Any] = {}
    for delta in api.fetch_iter(SIGNAL_TYPES, None):
        api.naive_fetch_merge(merged, delta.updates)
    return api.naive_convert_to_signal_type(SIGNAL_TYPES, collab, merged)


def test_pytx_local_file_exchange_loads_every_hash_of_the_hashlist_export(
    cases: tuple[Path, Path, str, str], tmp_path: Path,
) -> None:
    db, folder, _, _ = cases
    exported = run("export", "--db", str(db), "--format", "hashlist")
    assert exported.exit_code == 0, exported.output
    listing = tmp_path / "ngo-hashes.txt"
    listing.write_text(exported.stdout)
    collab = FileCollaborationConfig(name="ngo", filename=str(listing))

    loaded = loaded_signals(LocalFileSignalExchangeAPI(collab), collab)

    lines = [line.split() for line in exported.stdout.splitlines()]
    assert len(lines) == 5
    assert_loaded_and_matching(loaded, {value for kind, value in lines if kind == "pdq"}, folder, tmp_path)


class _FetchHashes(BaseHTTPRequestHandler):
    """Answers StopNCII's FetchHashes with one saved response, as its API would."""

    body: bytes = b""
    paths: list[str] = []

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self.paths.append(self.path)
        self.send_response(200 if self.path.startswith("/FetchHashes?") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@pytest.fixture()
def stopncii_server() -> Iterator[tuple[str, type[_FetchHashes]]]:
    handler = type("Handler", (_FetchHashes,), {"paths": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_pytx_stopncii_client_parses_every_record_of_the_stopncii_json_export(
    cases: tuple[Path, Path, str, str], stopncii_server: tuple[str, type[_FetchHashes]], tmp_path: Path,
) -> None:
    db, folder, a, b = cases
    exported = run("export", "--db", str(db), "--format", "stopncii-json")
    assert exported.exit_code == 0, exported.output
    url, handler = stopncii_server
    handler.body = exported.stdout.encode()
    client = StopNCIIAPI("subscription-key", "fetch-key", base_url_override=url)

    response = client.fetch_hashes()  # pytx logs and drops any record it cannot parse
    assert response.count == len(response.hashRecords) == 5 and not response.hasMoreRecords
    shared = [r for r in response.hashRecords if len(r.caseNumbers) == 2]
    assert len(shared) == 2  # one photo and one video are in both cases
    assert all(r.caseNumbers == {a: StopNCIICaseStatus.Active, b: StopNCIICaseStatus.Active} for r in shared)
    assert all(r.hashStatus == StopNCIICaseStatus.Active for r in response.hashRecords)

    collab = CollaborationConfigBase("stopncii", "stopncii", True)
    loaded = loaded_signals(StopNCIISignalExchangeAPI(collab, client), collab)
    exported_pdqs = {r["hashValue"] for r in json.loads(exported.stdout)["hashRecords"] if r["signalType"] == "ImagePDQ"}
    assert_loaded_and_matching(loaded, exported_pdqs, folder, tmp_path)


@pytest.fixture()
def fresh_case(tmp_path: Path) -> tuple[Path, Path, str, str]:
    """One case holding photo453 and a video; and pytx's own hashes of a platform's copies of them."""
    folder = tmp_path / "mine"
    write_photos(folder, [453])
    write_video(folder / "clip.mp4", 800)
    db = tmp_path / "cases.db"
    with Store(db) as store:
        case = store.create_case("C", "US")
        list(protect_paths(store, case, [folder], jobs=1))
    with Image.open(folder / "photo453.jpg") as original:
        original.resize((600, 450)).save(tmp_path / "copy.jpg", quality=55)
    copy_pdq = PdqSignal.hash_from_file(tmp_path / "copy.jpg")
    assert copy_pdq  # pytx gives "" for a picture below its quality threshold
    return db, tmp_path, copy_pdq, VideoMD5Signal.hash_from_file(folder / "clip.mp4")


def scan(db: Path, listing: Path) -> tuple[Result, list[dict[str, object]]]:
    result = run("scan", "--db", str(db), "--json", str(listing))
    found = [json.loads(line) for line in result.stdout.splitlines()]
    return result, [f for f in found if "match" in f]


def test_scan_reads_a_file_in_pytx_local_file_format(fresh_case: tuple[Path, Path, str, str]) -> None:
    db, folder, copy_pdq, video_md5 = fresh_case
    # The lines pytx's LocalFileSignalExchangeAPI.report_opinion means to append (in 1.2.17 it
    # fails on its own file mode "wta"), so written here with pytx's own signal type names.
    listing = folder / "platform.txt"
    listing.write_text("".join(f"{signal_type.get_name()} {value}\n" for signal_type, value in [
        (PdqSignal, PdqSignal.get_random_signal()), (PdqSignal, copy_pdq), (VideoMD5Signal, video_md5)]))
    collab = FileCollaborationConfig(name="platform", filename=str(listing))
    assert len(loaded_signals(LocalFileSignalExchangeAPI(collab), collab)[PdqSignal]) == 2  # pytx reads it too

    result, matches = scan(db, listing)
    assert result.exit_code == 0, result.output
    assert sorted(m["label"] for m in matches) == ["clip.mp4", "photo453.jpg"]


def test_scan_reads_stopncii_records_and_names_a_bad_one(fresh_case: tuple[Path, Path, str, str]) -> None:
    db, folder, copy_pdq, video_md5 = fresh_case
    record = {"lastModtimestamp": 1795274155, "hashStatus": "Active", "caseNumbers": {"7fa5rd": "Active"},
              "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": [], "source": "a platform"}]}
    envelope = {"count": 3, "nextPageToken": None, "nextSetTimestamp": 1795274155, "hasMoreRecords": False,
                "hashRecords": [{**record, "signalType": "ImagePDQ", "hashValue": copy_pdq},
                                {**record, "signalType": "VideoTMK", "hashValue": "00ff"},
                                {**record, "signalType": "VideoMD5", "hashValue": video_md5}]}
    listing = folder / "FetchHashes.json"
    listing.write_text(json.dumps(envelope))

    result, matches = scan(db, listing)
    assert result.exit_code == 1  # one record could not be read
    assert "FetchHashes.json, record 2: unknown signal type 'VideoTMK'" in result.stderr
    assert sorted(m["label"] for m in matches) == ["clip.mp4", "photo453.jpg"]


def test_scan_reads_hma_bank_content_as_its_api_answers(fresh_case: tuple[Path, Path, str, str]) -> None:
    db, folder, copy_pdq, video_md5 = fresh_case
    bank = {"matching_enabled_ratio": 1.0, "name": "PLATFORM_BANK"}
    contents = [  # the answers of GET /c/bank/<bank>/content/<id>?include_signals=true
        {"bank": bank, "disable_until_ts": 1, "id": 7, "original_media_uri": None, "signals": {"pdq": copy_pdq}},
        {"bank": bank, "disable_until_ts": 1, "id": 8, "note": "upload", "original_media_uri": None,
         "signals": {"pdq": PdqSignal.get_random_signal(), "video_md5": video_md5}},
    ]
    listing = folder / "bank.json"
    listing.write_text(json.dumps(contents))

    result, matches = scan(db, listing)
    assert result.exit_code == 0, result.output
    assert sorted(m["label"] for m in matches) == ["clip.mp4", "photo453.jpg"]


# -- pictures a platform's hasher reads differently from the picture a person sees -------------


def write_platform_readings(folder: Path) -> list[Path]:
    """A phone photo turned by its EXIF tag (6: 90 degrees), decoded at reduced size by us; a
    cut-out PNG whose transparent area holds black pixels, large enough to be reduced; and a
    palette PNG, whose indices pytx reads as grey."""
    folder.mkdir()
    phone, cutout, palette = folder / "phone.jpg", folder / "cutout.png", folder / "palette.png"
    exif = Image.Exif()
    exif[0x0112] = 6
    scene(461, (2400, 1800)).save(phone, quality=90, exif=exif)
    rgba = np.array(scene(462, (2600, 1700)).convert("RGBA"))
    mask = Image.new("L", (2600, 1700), 0)
    ImageDraw.Draw(mask).ellipse((450, 100, 2150, 1650), fill=255)
    rgba[..., 3] = np.asarray(mask)
    rgba[np.asarray(mask) == 0, :3] = 0
    Image.fromarray(rgba, "RGBA").save(cutout)
    scene(463, (800, 600)).quantize(64).save(palette)
    return [phone, cutout, palette]


def bits_apart(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


@pytest.fixture(scope="module")
def platform_readings(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """One case protecting the three pictures, as a person would."""
    root = tmp_path_factory.mktemp("readings")
    pictures = write_platform_readings(root / "mine")
    db = root / "cases.db"
    with Store(db) as store:
        case = store.create_case("R", "US")
        assert all(o.created for o in protect_paths(store, case, pictures, jobs=1))
    return db, pictures


def exported_pdqs(db: Path, variants: str, tmp_path: Path) -> dict[str, Any]:
    """The hashlist export with ``--variants``, loaded by pytx's local-file exchange."""
    exported = run("export", "--db", str(db), "--variants", variants)
    assert exported.exit_code == 0, exported.output
    listing = tmp_path / f"{variants}.txt"
    listing.write_text(exported.stdout)
    collab = FileCollaborationConfig(name="ngo", filename=str(listing))
    loaded = loaded_signals(LocalFileSignalExchangeAPI(collab), collab)[PdqSignal]
    assert len(loaded) == len(exported.stdout.splitlines())
    return loaded


def test_pytx_hash_of_each_file_matches_the_exported_as_stored_value(
    platform_readings: tuple[Path, list[Path]], tmp_path: Path,
) -> None:
    db, pictures = platform_readings
    loaded = exported_pdqs(db, "stored", tmp_path)
    assert len(loaded) == 6  # each picture upright and as its file stores it
    index = PDQIndex(list(loaded.items()))
    for picture in pictures:
        platform_hash = PdqSignal.hash_from_file(picture)  # what HMA computes from the uploaded file
        assert min(bits_apart(platform_hash, value) for value in loaded) <= 8, picture.name
        assert index.query(platform_hash), picture.name


def test_without_the_stored_variant_the_platform_hash_finds_nothing(
    platform_readings: tuple[Path, list[Path]], tmp_path: Path,
) -> None:
    db, pictures = platform_readings
    loaded = exported_pdqs(db, "none", tmp_path)
    assert len(loaded) == 3
    for picture in pictures:
        platform_hash = PdqSignal.hash_from_file(picture)
        assert min(bits_apart(platform_hash, value) for value in loaded) > 31, picture.name


def test_scan_of_a_platform_hash_list_finds_the_picture_as_stored_in_the_file(
    platform_readings: tuple[Path, list[Path]], tmp_path: Path,
) -> None:
    db, pictures = platform_readings
    listing = tmp_path / "platform.txt"
    listing.write_text("".join(f"pdq {PdqSignal.hash_from_file(p)}\n" for p in pictures))

    result, matches = scan(db, listing)
    assert result.exit_code == 0, result.output
    assert sorted(m["label"] for m in matches) == ["cutout.png", "palette.png", "phone.jpg"]
    for match in matches:
        assert match["evidence"][0]["variant"] == "as stored in the file"
