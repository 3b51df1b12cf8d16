"""Hostile local files: each case of issue 16 (items 6-8 and the picture limits of 12) made on the
fly with small inputs, run through the real command in a subprocess with an address-space cap
(RLIMIT_AS) and a generous wall-clock cap. The caps are bounds that must hold, not timings."""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from stopncii_tools.signals._examples import encode, scene

GB = 1024**3
WALL_CAP = 240  # seconds: far above a correct run, far below a hang


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_16bit_bomb(side: int = 10_000) -> bytes:
    """A small PNG of 16-bit grey samples: 100 MP, 24 bytes a pixel on the way to RGB."""
    rows = zlib.compress((b"\0" + b"\0\0" * side) * side, 9)
    header = struct.pack(">IIBBBBB", side, side, 16, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")


def gif_bomb() -> bytes:
    """A 29-byte GIF declaring a 20000 x 9999 screen (under the pixel limit)."""
    size = struct.pack("<HH", 20_000, 9_999)
    return b"GIF89a" + size + b"\x00\x00\x00" + b"\x2c\x00\x00\x00\x00" + size + b"\x00\x02\x02\x44\x01\x00\x3b"


def webp_bomb() -> bytes:
    """A 44-byte animated WebP declaring a 13000 x 13000 canvas, which libwebp allocates on open."""
    side = (13_000 - 1).to_bytes(3, "little")
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x02\x00\x00\x00" + side + side
    anim = b"ANIM" + struct.pack("<I", 6) + b"\0" * 6
    body = b"WEBP" + vp8x + anim
    return b"RIFF" + struct.pack("<I", len(body)) + body


def jpeg_scan_bomb(copies: int = 400) -> bytes:
    """A progressive JPEG whose last scan is repeated: each repeat is one more pass over the picture."""
    data = encode(scene(3, (256, 256)), "JPEG", progressive=True)
    last_scan = data.rindex(b"\xff\xda")
    scan = data[last_scan:-2]
    return data[:last_scan] + scan * copies + b"\xff\xd9"


def run_capped(args: list[str], cwd: Path, env: dict[str, str] | None = None,
               memory: int = 3 * GB) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess under an address-space cap; it must finish within WALL_CAP."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run(
        [sys.executable, "-m", "stopncii_tools", *args], cwd=cwd, capture_output=True, text=True,
        timeout=WALL_CAP, preexec_fn=cap, env={**os.environ, "NO_COLOR": "1", **(env or {})})


def outcomes(stdout: str) -> dict[str, dict[str, object]]:
    """The files hashed, by name."""
    records = map(json.loads, stdout.splitlines())
    return {Path(str(r["path"])).name: r for r in records if "error" not in r}


def errors_by_file(stdout: str) -> dict[str, str]:
    """The one-line reason for each file that could not be hashed, without its name."""
    records = map(json.loads, stdout.splitlines())
    return {Path(str(r["path"])).name: str(r["error"]).split(": ", 1)[1] for r in records if "error" in r}


def test_memory_bombs_under_the_pixel_limit_are_refused_from_their_headers(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "grey16.png").write_bytes(png_16bit_bomb())
    (folder / "screen.gif").write_bytes(gif_bomb())
    (folder / "canvas.webp").write_bytes(webp_bomb())
    (folder / "scans.jpg").write_bytes(jpeg_scan_bomb())
    (folder / "good.jpg").write_bytes(encode(scene(5)))

    done = run_capped(["hash", "-j", "2", "--json", "in"], tmp_path)

    assert "Traceback" not in done.stderr
    assert list(outcomes(done.stdout)) == ["good.jpg"]
    errors = errors_by_file(done.stdout)
    assert set(errors) == {"grey16.png", "screen.gif", "canvas.webp", "scans.jpg"}
    for name in ("grey16.png", "screen.gif", "canvas.webp"):
        assert "would need about" in errors[name] and "STOPNCII_ITEM_MEMORY_MB" in errors[name]
    assert "more than 100 scans" in errors["scans.jpg"]


def test_the_memory_limit_can_be_raised_for_one_big_file(tmp_path: Path) -> None:
    (tmp_path / "screen.gif").write_bytes(gif_bomb())
    done = run_capped(["hash", "--json", "screen.gif"], tmp_path, env={"STOPNCII_ITEM_MEMORY_MB": "1500"},
                      memory=4 * GB)
    # decoded this time (within the 4 GB cap): its 2 bytes of pixels are too few for the screen
    assert errors_by_file(done.stdout) == {
        "screen.gif": "the GIF file is cut short (truncated): image file is truncated (2 bytes not processed)"}


def _tiny_8k_video(frames: int = 12) -> bytes:
    av = pytest.importorskip("av")
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 7680, 4320, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        frame = av.VideoFrame.from_ndarray(np.zeros((4320 * 3 // 2, 7680), np.uint8), format="yuv420p")
        for index in range(frames):
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def test_a_file_past_its_time_budget_is_stopped_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a-8k.mp4").write_bytes(_tiny_8k_video(frames=150))  # seconds to decode, even on a fast machine
    (tmp_path / "in" / "b-good.jpg").write_bytes(encode(scene(6)))
    # 0.3 s plus 2 s a MB: about 0.5 s for this 100 kB video, which takes seconds to decode
    done = run_capped(["hash", "-j", "1", "--json", "in"], tmp_path, env={"STOPNCII_ITEM_SECONDS": "0.3"})
    assert "Traceback" not in done.stderr
    assert list(outcomes(done.stdout)) == ["b-good.jpg"]
    assert "the time limit for this file, and was stopped" in errors_by_file(done.stdout)["a-8k.mp4"]


def test_devices_fifos_and_links_to_them_are_never_read(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "waiting.jpg")  # nobody ever writes to it
    (folder / "zeros.jpg").symlink_to("/dev/zero")
    (folder / "good.jpg").write_bytes(encode(scene(7)))

    done = run_capped(["hash", "-j", "2", "--json", "in"], tmp_path, memory=2 * GB)

    assert list(outcomes(done.stdout)) == ["good.jpg"]
    errors = errors_by_file(done.stdout)
    assert errors["waiting.jpg"] == errors["zeros.jpg"] == (
        "this is a device, pipe or socket, not a file: only regular files are read")


def test_files_over_the_size_limit_are_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "big.jpg").write_bytes(encode(scene(8)) + b"\0" * 2_000_000)
    done = run_capped(["hash", "big.jpg"], tmp_path, env={"STOPNCII_MAX_FILE_MB": "1"})
    assert "Traceback" not in done.stderr
    assert done.returncode == 1
    assert "big.jpg: the file is 2 MB, above the limit of 1 MB for one file" in done.stderr


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the workers through /proc")
def test_workers_die_with_their_parent(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    slow = encode(Image.new("RGB", (9000, 9000), (90, 20, 20)), "PNG")  # about a second each
    for index in range(8):
        (folder / f"slow{index}.png").write_bytes(slow)
    parent = subprocess.Popen([sys.executable, "-m", "stopncii_tools", "hash", "-j", "2", "in"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(workers := _children(parent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(workers) == 2
        time.sleep(1.0)  # both busy decoding
        parent.send_signal(signal.SIGKILL)  # as the out-of-memory killer does
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in workers if _alive(pid)]
    finally:
        parent.kill()
        parent.wait()


def test_pictures_between_pillows_limit_and_ours_are_hashed(tmp_path: Path) -> None:
    # Pillow calls more than 89.5 MP a bomb; our limit is 200 MP, and the picture is 100 MP
    (tmp_path / "large.png").write_bytes(encode(Image.new("L", (10_000, 10_000), 128), "PNG"))
    done = run_capped(["hash", "--json", "large.png"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert outcomes(done.stdout)["large.png"]["width"] == 10_000

    lower = run_capped(["hash", "large.png"], tmp_path, env={"STOPNCII_MAX_PIXELS": "50000000"})
    assert "the picture claims 100 megapixels, above the safety limit of 50 megapixels" in lower.stderr


def test_the_pixel_limit_can_be_raised_past_pillows_own(tmp_path: Path) -> None:
    (tmp_path / "wide.png").write_bytes(encode(Image.new("L", (20_000, 11_000), 30), "PNG"))  # 220 MP
    refused = run_capped(["hash", "wide.png"], tmp_path)
    assert "claims 220 megapixels, above the safety limit of 200 megapixels" in refused.stderr
    raised = run_capped(["hash", "--json", "wide.png"], tmp_path,
                        env={"STOPNCII_MAX_PIXELS": "300000000", "STOPNCII_ITEM_MEMORY_MB": "1500"}, memory=4 * GB)
    assert raised.returncode == 0, raised.stderr
