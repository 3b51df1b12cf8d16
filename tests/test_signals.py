"""The same checks on every signal type, plus Meta's PDQ reference hashes."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from stopncii_tools import InvalidHash, open_picture
from stopncii_tools.media.video import DecodedVideo
from stopncii_tools.signals import HASHES, SIGNALS, Decoded, HashSignal, Signal, SignalValue, pdq_numpy
from stopncii_tools.signals.pdq import BACKENDS, PDQ
from stopncii_tools.store import Store
from stopncii_tools.store.rows import MediaRecord, SignalRow

# PDQ once per installed backend (numpy always; pdqhash with the "fast" extra), then the others
ALL = [PDQ(backend) for backend in sorted(BACKENDS)] + [s for s in SIGNALS.values() if s.name != "pdq"]
ALL_HASHES = list(HASHES.values())


def _label(signal: Signal) -> str:
    return f"pdq-{signal.backend_name}" if isinstance(signal, PDQ) else signal.name


def _needs_extra(signal: Signal) -> None:
    if signal.requires:
        pytest.importorskip(signal.requires, reason=f"the extra that {signal.name} needs is not installed")


def _compute(signal: Signal, data: bytes) -> SignalValue:
    """The signal of ``data``, decoded the way hashing decodes it."""
    if "video" in signal.kinds and "image" not in signal.kinds:
        media = Decoded(data, "video", video=DecodedVideo(data))
    else:
        media = Decoded(data, "image", picture=open_picture(data, detail_side=signal.picture_side))
    value = signal.compute(media)
    assert value is not None and value.signal == signal.name
    return value


@pytest.fixture(scope="module")
def computed() -> dict[str, list[tuple[SignalValue, SignalValue, bool]]]:
    """Each signal's examples, computed once: (a, b, same)."""
    out = {}
    for signal in ALL:
        if signal.requires and importlib.util.find_spec(signal.requires) is None:
            continue
        out[_label(signal)] = [(_compute(signal, e.a), _compute(signal, e.b), e.same) for e in signal.examples()]
    return out


@pytest.mark.parametrize("signal", ALL, ids=_label)
def test_examples_match_and_differ_as_declared(signal: Signal, computed: dict) -> None:  # type: ignore[type-arg]
    _needs_extra(signal)
    examples = computed[_label(signal)]
    assert any(same for _, _, same in examples) and any(not same for _, _, same in examples)
    for a, b, same in examples:
        assert (signal.compare(a, b) is not None) is same, (signal.name, signal.compare(a, b))
        if isinstance(signal, HashSignal):
            assert len(str(a.value)) == len(str(b.value)) == signal.hex_length


@pytest.mark.parametrize("signal", ALL, ids=_label)
def test_a_value_matches_itself_and_the_comparison_is_symmetric(signal: Signal, computed: dict) -> None:  # type: ignore[type-arg]
    _needs_extra(signal)
    a, b, _ = computed[_label(signal)][0]
    assert signal.compare(a, a) is not None
    assert (signal.compare(a, b) is None) is (signal.compare(b, a) is None)
    if isinstance(signal, HashSignal):
        assert signal.distance(str(a.value), str(a.value)) == 0
        assert signal.distance(str(a.value), str(b.value)) == signal.distance(str(b.value), str(a.value))


@pytest.mark.parametrize("signal", ALL, ids=_label)
def test_the_index_finds_what_compare_matches(signal: Signal, computed: dict) -> None:  # type: ignore[type-arg]
    _needs_extra(signal)
    for a, b, same in computed[_label(signal)]:
        index = signal.index()
        index.add(7, a)
        assert len(index) == 1
        assert [hit.owner for hit in index.search(b)] == ([7] if same else [])


@pytest.mark.parametrize("signal", ALL, ids=_label)
def test_stored_form_survives_the_database_and_validates(signal: Signal, computed: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    _needs_extra(signal)
    a, _, _ = computed[_label(signal)][0]
    assert signal.validate(a.value) == a.value
    with Store(tmp_path / "c.db") as store:
        case = store.create_case("Signals")
        media = MediaRecord("image", "jpeg", 1, 1, 1, "ab" * 32)
        rows = [SignalRow(a.signal, 0, a.value, a.quality)] + ([] if a.signal == "sha256" else [SignalRow("sha256", 0, "ab" * 32, None)])
        store.add_protected(case.id, media, rows, None)
        [back] = [s for s in store.protected_signals(case.id) if s.signal == signal.name]
    assert (back.value, back.quality) == (a.value, a.quality) and type(back.value) is type(a.value)


@pytest.mark.parametrize("signal", [s for s in ALL if not isinstance(s, HashSignal)], ids=_label)
def test_a_damaged_structured_value_is_refused_plainly(signal: Signal, computed: dict) -> None:  # type: ignore[type-arg]
    _needs_extra(signal)
    a, _, _ = computed[_label(signal)][0]
    with pytest.raises(InvalidHash, match="damaged|not"):
        signal.validate(bytes(a.value)[:-1])
    with pytest.raises(InvalidHash, match="bytes"):
        signal.validate(bytes(a.value).hex())


@pytest.mark.parametrize("signal", ALL_HASHES, ids=lambda s: s.name)
@given(data=st.data())
def test_hex_form_round_trips(signal: HashSignal, data: st.DataObject) -> None:
    value = data.draw(st.integers(min_value=0, max_value=2**signal.bits - 1))
    text = format(value, f"0{signal.hex_length}x")
    assert signal.validate(text.upper()) == text
    assert signal.validate(f"  {text}\n") == text
    assert int(signal.validate(text), 16) == value


@pytest.mark.parametrize("signal", ALL_HASHES, ids=lambda s: s.name)
@given(text=st.text(max_size=80))
def test_validate_accepts_only_hex_of_the_right_length(signal: HashSignal, text: str) -> None:
    stripped = text.strip().lower()
    ok = len(stripped) == signal.hex_length and all(c in "0123456789abcdef" for c in stripped)
    if ok:
        assert signal.validate(text) == stripped
    else:
        with pytest.raises(InvalidHash, match=signal.name):
            signal.validate(text)


def _reference_rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "expected-pdq.csv", newline="") as f:
        return list(csv.DictReader(f))


BACKEND_NAMES = sorted(BACKENDS)


def _pdq_of(backend: str, path: Path) -> SignalValue:
    return _compute(PDQ(backend), path.read_bytes())


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("folder", ["dihedral", "bridge-mods"])
def test_pdq_lands_within_10_bits_of_meta_reference(shared_testdata: Path, folder: str, backend: str) -> None:
    base = shared_testdata / "pdq" / folder
    pdq = PDQ(backend)
    for row in _reference_rows(base):
        ours = _pdq_of(backend, base / row["file"])
        assert pdq.distance(ours.text(), row["pdq_hex"]) <= 10, row["file"]
        assert ours.quality is not None and abs(ours.quality - int(row["quality"])) <= 10


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_pictures_hashed_as_decoded_give_meta_reference_hash_exactly(shared_testdata: Path, backend: str) -> None:
    # pictures up to 512 px are hashed at their own size, so only Meta's C++ arithmetic is compared
    base = shared_testdata / "pdq" / "bridge-mods"
    small = [r for r in _reference_rows(base) if r["file"].startswith(("square-", "shrink-a-lot"))]
    assert len(small) == 4
    for row in small:
        ours = _pdq_of(backend, base / row["file"])
        assert (ours.value, ours.quality) == (row["pdq_hex"], int(row["quality"])), row["file"]


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_all_eight_dihedral_files_match_the_original_variants(shared_testdata: Path, backend: str) -> None:
    base = shared_testdata / "pdq" / "dihedral"
    pdq = PDQ(backend)
    variants = pdq.dihedral(open_picture((base / "bridge-1-original.jpg").read_bytes()))
    assert len(variants) == 8
    for row in _reference_rows(base):
        h = _pdq_of(backend, base / row["file"]).text()
        best = min(pdq.distance(h, v.text()) for v in variants)
        assert best <= pdq.threshold, (row["file"], best)
    # and without the variants, rotated copies do not match: the variants are what finds them
    plain = _pdq_of(backend, base / "bridge-2-rotate-90.jpg").text()
    assert pdq.distance(plain, variants[0].text()) > pdq.threshold


def _both(rgb: np.ndarray) -> None:
    """numpy PDQ gives pdqhash's bits and quality, for the hash and all 8 variants."""
    pdqhash = pytest.importorskip("pdqhash", reason="the fast extra (pdqhash) is not installed")
    bits, quality = pdq_numpy.compute(rgb)
    ref_bits, ref_quality = pdqhash.compute(rgb)
    assert (bits.tolist(), quality) == (list(ref_bits), ref_quality), rgb.shape
    variants, quality = pdq_numpy.compute_dihedral(rgb)
    ref_variants, ref_quality = pdqhash.compute_dihedral(rgb)
    assert ([v.tolist() for v in variants], quality) == ([list(v) for v in ref_variants], ref_quality), rgb.shape


def test_numpy_pdq_equals_pdqhash_bit_for_bit_on_every_reference_file(shared_testdata: Path) -> None:
    files = sorted(p for p in (shared_testdata / "pdq").glob("*/*") if p.suffix in {".jpg", ".png", ".webp"})
    assert len(files) >= 40
    for path in files:
        _both(np.asarray(open_picture(path.read_bytes()).image))  # as hashing decodes it (at most 512 px)
        with Image.open(path) as full:
            if full.width * full.height <= 2_000_000:  # the 12 MP ones: benchmarks/pdq.py compares them
                _both(np.asarray(full.convert("RGB")))  # at full size, up to 1600 px


@given(
    height=st.integers(min_value=1, max_value=300),
    width=st.integers(min_value=1, max_value=300),
    kind=st.sampled_from(["noise", "flat", "stripes"]),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_numpy_pdq_equals_pdqhash_bit_for_bit_on_any_pixels(height: int, width: int, kind: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    if kind == "noise":
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    elif kind == "flat":  # every coefficient equal: the median rule decides every bit
        rgb = np.full((height, width, 3), rng.integers(0, 256), dtype=np.uint8)
    else:
        y, x = np.mgrid[0:height, 0:width]
        rgb = np.stack([(x * 3 + y) % 256, (x * y) % 256, (y * 5) % 256], axis=-1).astype(np.uint8)
    _both(rgb)
