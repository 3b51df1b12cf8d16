"""The same checks on every signal type, plus Meta's PDQ reference hashes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopncii_tools import InvalidHash, hash_bytes, open_picture
from stopncii_tools.signals import SIGNALS, Signal
from stopncii_tools.signals.pdq import PDQ

ALL = list(SIGNALS.values())


def _compute(signal: Signal, data: bytes) -> str:
    picture = open_picture(data) if "image" in signal.kinds and signal.name not in ("md5", "sha256") else None
    return signal.compute(data, picture).value


@pytest.mark.parametrize("signal", ALL, ids=lambda s: s.name)
def test_examples_match_and_differ_as_declared(signal: Signal) -> None:
    examples = signal.examples()
    assert any(e.same for e in examples) and any(not e.same for e in examples)
    for example in examples:
        a, b = _compute(signal, example.a), _compute(signal, example.b)
        assert len(a) == len(b) == signal.hex_length
        assert signal.matches(a, b) is example.same, (signal.name, signal.distance(a, b))


@pytest.mark.parametrize("signal", ALL, ids=lambda s: s.name)
def test_distance_is_zero_to_itself_and_symmetric(signal: Signal) -> None:
    example = signal.examples()[0]
    a, b = _compute(signal, example.a), _compute(signal, example.b)
    assert signal.distance(a, a) == 0
    assert signal.distance(a, b) == signal.distance(b, a)


@pytest.mark.parametrize("signal", ALL, ids=lambda s: s.name)
@given(data=st.data())
def test_hex_form_round_trips(signal: Signal, data: st.DataObject) -> None:
    value = data.draw(st.integers(min_value=0, max_value=2**signal.bits - 1))
    text = format(value, f"0{signal.hex_length}x")
    assert signal.validate(text.upper()) == text
    assert signal.validate(f"  {text}\n") == text
    assert int(signal.validate(text), 16) == value


@pytest.mark.parametrize("signal", ALL, ids=lambda s: s.name)
@given(text=st.text(max_size=80))
def test_validate_accepts_only_hex_of_the_right_length(signal: Signal, text: str) -> None:
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


@pytest.mark.parametrize("folder", ["dihedral", "bridge-mods"])
def test_pdq_lands_within_10_bits_of_meta_reference(shared_testdata: Path, folder: str) -> None:
    base = shared_testdata / "pdq" / folder
    pdq = PDQ()
    for row in _reference_rows(base):
        ours = hash_bytes((base / row["file"]).read_bytes()).signals["pdq"]
        assert pdq.distance(ours.value, row["pdq_hex"]) <= 10, row["file"]
        assert abs(ours.quality - int(row["quality"])) <= 10


def test_all_eight_dihedral_files_match_the_original_variants(shared_testdata: Path) -> None:
    base = shared_testdata / "pdq" / "dihedral"
    pdq = PDQ()
    variants = hash_bytes((base / "bridge-1-original.jpg").read_bytes(), dihedral=True).pdq_variants
    assert len(variants) == 8
    for row in _reference_rows(base):
        h = hash_bytes((base / row["file"]).read_bytes()).signals["pdq"].value
        best = min(pdq.distance(h, v.value) for v in variants)
        assert best <= pdq.threshold, (row["file"], best)
    # and without the variants, rotated copies do not match: the variants are what finds them
    plain = hash_bytes((base / "bridge-2-rotate-90.jpg").read_bytes()).signals["pdq"].value
    assert pdq.distance(plain, variants[0].value) > pdq.threshold
