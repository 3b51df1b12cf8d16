"""The hash-list reader: every format the hash-sharing systems write, one clear problem per bad item, no crash."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stopncii_tools._errors import InputFileError
from stopncii_tools.signals.hashlists import (
    HashEntry,
    HashListProblem,
    looks_like_hash_list,
    parse_hash_list,
)

PDQ = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
hex_of = lambda n: st.text(alphabet="0123456789abcdef", min_size=n, max_size=n)  # noqa: E731
hashes = st.lists(st.one_of(st.tuples(st.just("pdq"), hex_of(64)), st.tuples(st.just("md5"), hex_of(32))),
                  min_size=1, max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.sampled_from(["hashRecords", "matches", "signals", "signalType", "hashValue", "signal_type",
                         "signal_value", "pdq", "video_md5", "id"]) | st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


def read(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    items = list(parse_hash_list(text))
    entries = [(e.signal, e.value) for e in items if isinstance(e, HashEntry)]
    problems = [f"{p.where}: {p.reason}" for p in items if isinstance(p, HashListProblem)]
    return entries, problems


def check_well_formed(text: str) -> None:
    try:
        items = list(parse_hash_list(text))
    except InputFileError as exc:
        assert "\n" not in str(exc)
        return
    for item in items:
        assert isinstance(item, (HashEntry, HashListProblem))
        if isinstance(item, HashListProblem):
            assert item.where.startswith(("line ", "record ")) and len(item.reason.splitlines()) == 1


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_any_text_gives_entries_problems_or_one_clear_error(text: str) -> None:
    check_well_formed(text)


@settings(max_examples=300)
@given(json_values)
def test_any_json_gives_entries_problems_or_one_clear_error(value: object) -> None:
    check_well_formed(json.dumps(value))


def pytx_lines(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"{'video_md5' if s == 'md5' else s} {v}\n" for s, v in pairs)


def stopncii_envelope(pairs: list[tuple[str, str]]) -> str:
    records = [{"lastModtimestamp": 1, "signalType": "VideoMD5" if s == "md5" else "ImagePDQ", "hashValue": v,
                "hashStatus": "Active", "caseNumbers": {"c1": "Active"}, "CSPFeedbacks": []} for s, v in pairs]
    return json.dumps({"count": len(records), "nextPageToken": None, "nextSetTimestamp": 1,
                       "hasMoreRecords": False, "hashRecords": records})


def hma_contents(pairs: list[tuple[str, str]]) -> str:
    return json.dumps([{"bank": {"matching_enabled_ratio": 1.0, "name": "B"}, "disable_until_ts": 1, "id": i,
                        "original_media_uri": None, "signals": {"video_md5" if s == "md5" else s: v}}
                       for i, (s, v) in enumerate(pairs, start=1)])


def hma_find_answer(pairs: list[tuple[str, str]]) -> str:
    return json.dumps({"bank_name": "B", "content_ids": list(range(len(pairs))), "matches": [
        {"content_id": i, "distance": "0", "signal_type": "video_md5" if s == "md5" else s, "signal_value": v}
        for i, (s, v) in enumerate(pairs)]})


@pytest.mark.parametrize("write", [pytx_lines, stopncii_envelope, hma_contents, hma_find_answer])
@settings(max_examples=40)
@given(pairs=hashes)
def test_every_format_reads_back_every_hash(write, pairs: list[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    text = write(pairs)
    assert looks_like_hash_list(text)
    assert read(text) == (pairs, [])


def test_one_stopncii_record_and_a_bare_list_of_records_read() -> None:
    record = {"signalType": "ImagePDQ", "hashValue": PDQ}
    assert read(json.dumps(record)) == ([("pdq", PDQ)], [])
    assert read("\ufeff" + json.dumps([record, {**record, "signalType": "VideoMD5", "hashValue": MD5}])) == (
        [("pdq", PDQ), ("md5", MD5)], [])


def test_bad_records_are_named_one_by_one_and_the_rest_still_read() -> None:
    records = [{"signalType": "ImagePDQ", "hashValue": PDQ}, "text", {"signalType": "URL", "hashValue": "x"},
               {"signalType": "ImagePDQ", "hashValue": PDQ[:-1]}, {"signalType": "ImagePDQ"}, {"caseNumbers": {}},
               {"signals": {}}, {"signals": {"pdq": PDQ, "video_md5": MD5}}]
    entries, problems = read(json.dumps({"hashRecords": records}))
    assert entries == [("pdq", PDQ), ("pdq", PDQ), ("md5", MD5)]
    assert problems == [
        "record 2: is not a JSON object",
        "record 3: unknown signal type 'URL'; this tool reads pdq, video_md5 (or md5), sha256, phash, dhash and whash",
        "record 4: a pdq hash is 64 hexadecimal characters; got "
        "'f8f8f0cce0f4e84d0e370...' (63 characters)",
        "record 5: has no hash as text",
        "record 6: has neither 'signalType' and 'hashValue' (StopNCII) nor 'signals' (HMA)",
        "record 7: 'signals' holds no '<signal type>': '<hash>' pairs",
    ]


@pytest.mark.parametrize("text, message", [
    ('{"hashRecords": [', "the hash list is not valid JSON (line 1: Expecting value)"),
    ('{"hashRecords": {"a": 1}}', "'hashRecords' in the hash list is not a list of records"),
    ('{"count": 0}', "this JSON holds no hash records"),
    ("[" * 100_000, "nested too deeply"),
])
def test_json_that_cannot_be_read_at_all_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(InputFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        list(parse_hash_list(text))


def test_json_without_hash_keys_is_not_taken_for_a_hash_list() -> None:
    assert not looks_like_hash_list('{"urls": ["https://example.org/a.jpg"]}')
    assert looks_like_hash_list('  {"count": 1, "hashRecords": []}')
