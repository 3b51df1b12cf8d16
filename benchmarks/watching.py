"""Benchmark: scanning and watching a Telegram channel full of posts, on loopback.

A loopback server (tests/telegram_fake.py) serves a public channel in Telegram's markup: photo
posts, albums, video posts and text-only posts, 20 a page, newest first. Some posts are edits
or "undressed" fakes of protected photos. The benchmark times the first scan of the whole
channel, then the watch run after new posts arrived (only what is new is fetched), against a
full re-scan of the same channel, and counts recall of the planted posts and false matches.

    .venv/bin/python benchmarks/watching.py [--posts 2000] [--planted 20] [--new 10]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from stopncii_tools.media.samples import EDITS, _watermark, body_replaced, screenshot  # noqa: E402
from stopncii_tools.signals._examples import encode, scene  # noqa: E402
from stopncii_tools.store import Store  # noqa: E402
from stopncii_tools.workflow.protect import protect_paths  # noqa: E402
from stopncii_tools.workflow.scan import ScanOptions, scan_sources  # noqa: E402
from stopncii_tools.workflow.watch import add_watch, run_watches  # noqa: E402
from tests.telegram_fake import HOSTS, Channel, Post, serve  # noqa: E402


@dataclass
class Row:
    step: str
    seconds: float
    pages: int
    pictures_fetched: int
    megabytes: float
    found: int
    planted_found: int
    planted: int
    false_matches: int

    def cells(self) -> list[str]:
        rate = self.pictures_fetched / self.seconds if self.seconds else 0.0
        return [self.step, f"{self.seconds:.1f}", f"{rate:.1f}", str(self.pages), str(self.pictures_fetched),
                f"{self.megabytes:.1f}", f"{self.planted_found}/{self.planted}", str(self.false_matches)]


def _video() -> bytes | None:
    """A two-second clip, made once (PyAV from the video extra); None without it."""
    try:
        import av
    except ImportError:
        return None
    import io

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("h264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(20):
            frame = av.VideoFrame.from_image(scene(9000 + i // 5, (320, 240)))
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out.getvalue()


def _planted(protected: list[Image.Image], rng: random.Random) -> bytes:
    photo = protected[rng.randrange(len(protected))]
    kind = rng.choice([*EDITS, "screenshot", "fake"])
    if kind == "screenshot":
        return encode(screenshot(photo), quality=80)
    if kind == "fake":
        return encode(_watermark(body_replaced(photo, scene(rng.randrange(10**6), (300, 300)))), quality=70)
    return encode(EDITS[kind](photo), quality=75)


def build(posts: int, planted: int, protected: list[Image.Image], seed: int = 1) -> tuple[Channel, set[int]]:
    rng = random.Random(seed)
    video = _video()
    channel = Channel("bench_chan")
    planted_ids = set(rng.sample(range(1000, 1000 + posts), planted))
    for n in range(posts):
        post_id = 1000 + n
        if post_id in planted_ids:
            channel.add(Post(post_id, photos=[_planted(protected, rng)], text="new"))
            continue
        roll = rng.random()
        if roll < 0.1:
            channel.add(Post(post_id, text=f"only words {n}"))
        elif roll < 0.15 and video is not None:
            channel.add(Post(post_id, video=video, video_thumb=encode(scene(20000 + n, (320, 240)), quality=70)))
        elif roll < 0.25:
            channel.add(Post(post_id, photos=[encode(scene(30000 + n * 3 + k, (480, 360)), quality=80)
                                               for k in range(rng.choice([2, 3]))]))
        else:
            channel.add(Post(post_id, photos=[encode(scene(40000 + n, (480, 360)), quality=80)]))
    return channel, planted_ids


def measure(step: str, channel: Channel, work: callable, planted: set[int]) -> Row:  # type: ignore[valid-type]
    before_pages = channel.requests[f"/s/{channel.name}"]
    before_files = sum(n for p, n in channel.requests.items() if p.startswith("/file/"))
    before_bytes = channel.bytes_sent
    started = time.perf_counter()
    outcomes = work()
    seconds = time.perf_counter() - started
    matched_posts = {int(o.sighting.page_url.rsplit("/", 1)[1]) for o in outcomes
                     if o.matches and o.sighting and o.sighting.page_url and o.sighting.page_url[-1].isdigit()}
    relevant = set(planted)
    return Row(step, seconds, channel.requests[f"/s/{channel.name}"] - before_pages,
               sum(n for p, n in channel.requests.items() if p.startswith("/file/")) - before_files,
               (channel.bytes_sent - before_bytes) / 1e6, len(matched_posts), len(matched_posts & relevant),
               len(relevant), len(matched_posts - planted))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--planted", type=int, default=20)
    parser.add_argument("--new", type=int, default=10, help="posts that arrive before the watch run")
    parser.add_argument("--protected", type=int, default=5)
    args = parser.parse_args()

    protected = [scene(500 + i, (800, 600)) for i in range(args.protected)]
    channel, planted = build(args.posts, args.planted, protected)
    options = ScanOptions(allow_private=True, hosts=HOSTS, max_pages=args.posts // 20 + 5)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, serve(channel):
        mine = Path(tmp) / "mine"
        mine.mkdir()
        for i, photo in enumerate(protected):
            (mine / f"p{i}.jpg").write_bytes(encode(photo, quality=92))
        with Store(Path(tmp) / "cases.db") as store:
            case = store.create_case("Benchmark")
            list(protect_paths(store, case, [mine], jobs=1))
            add_watch(store, case, channel.url)
            rows.append(measure("first watch run: whole channel", channel,
                                lambda: next(run_watches(store, options=options)).outcomes, planted))
            rng = random.Random(7)
            newest = max(p.id for p in channel.posts)
            arrived: set[int] = set()
            for k in range(args.new):
                post_id = newest + 1 + k
                if k < 2:  # two of the new posts are copies again
                    arrived.add(post_id)
                    channel.add(Post(post_id, photos=[_planted(protected, rng)]))
                else:
                    channel.add(Post(post_id, photos=[encode(scene(60000 + k, (480, 360)), quality=80)]))
            rows.append(measure(f"watch run after {args.new} new posts", channel,
                                lambda: next(run_watches(store, due_only=False, options=options)).outcomes, arrived))
            planted |= arrived
            other = store.create_case("Full re-scan")
            list(protect_paths(store, other, [mine], jobs=1))
            rows.append(measure("full re-scan (no watch), for comparison", channel,
                                lambda: list(scan_sources(store, other, [channel.url], options)), planted))
    header = ["step", "seconds", "pictures/s", "pages", "pictures fetched", "MB fetched", "planted found",
              "false matches"]
    table = [header] + [r.cells() for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print(f"\n{args.posts} posts ({args.planted} planted edits and fakes of {args.protected} protected photos), "
          f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB\n")
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
