"""Request text normalization and byte encoding (workbench.features.text)."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.features import (
    DEFAULT_HEADERS,
    TextEncoder,
    decode_ids,
    encode_requests,
    encode_texts,
    normalize,
    request_texts,
)
from workbench.features import text as text_module

# -- a per-character reference implementation of the documented normalization ---------------
_ENTITY = re.compile(rb"&(?:#[0-9]{1,7};?|#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)")
_HEX = b"0123456789abcdefABCDEF"


def reference_bytes(text: str | None, lowercase: bool = True, collapse: bool = True) -> bytes:
    raw = (text or "").encode("utf-8").replace(b"+", b" ")
    for _ in range(3):
        out, i, found = bytearray(), 0, False
        while i < len(raw):
            if raw[i] == 37 and i + 2 < len(raw) and raw[i + 1] in _HEX and raw[i + 2] in _HEX:
                out.append(int(raw[i + 1 : i + 3], 16))
                i, found = i + 3, True
            else:
                out.append(raw[i])
                i += 1
        raw = bytes(out)
        if not found:
            break
    raw = _ENTITY.sub(lambda m: html.unescape(m.group().decode("ascii")).encode(), raw)
    out, prev_digit = bytearray(), False
    for c in raw:
        if lowercase and 65 <= c <= 90:
            c += 32
        if collapse and 48 <= c <= 57:
            if prev_digit:
                continue
            c, prev_digit = 48, True
        else:
            prev_digit = False
        out.append(c)
    return bytes(out)


def reference_ids(texts, max_len, lowercase=True, collapse=True) -> np.ndarray:
    ids = np.zeros((len(texts), max_len), dtype=np.int16)
    for r, t in enumerate(texts):
        b = reference_bytes(t, lowercase, collapse)[:max_len]
        ids[r, : len(b)] = np.frombuffer(b, dtype=np.uint8).astype(np.int16) + 1
    return ids


# -- normalize -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a+b", "a b"),
        ("%2B", "+"),  # '+' from decoding stays a '+'
        ("%27%20OR%201%3D1--", "' or 0=0--"),
        ("%2527", "'"),  # double encoded
        ("%252527", "'"),  # triple encoded
        ("%25252527", "%0"),  # four levels: only 3 rounds leave %27, digits collapse
        ("100%", "0%"),
        ("%zz%4", "%zz%0"),
        ("%%41", "%a"),
        ("&lt;script&gt;", "<script>"),
        ("&#60;img&#x3E;", "<img>"),
        ("&#60img", "<img"),  # numeric reference without ';'
        ("a=1&para=2&amp", "a=0&para=0&amp"),  # named references need the ';'
        ("%26lt%3Bsvg", "<svg"),  # decoded after percent-decoding
        ("SELECT * FROM Users", "select * from users"),
        ("id=12345&x=9y88z", "id=0&x=0y0z"),
        ("", ""),
    ],
)
def test_normalize_examples(raw: str, expected: str) -> None:
    assert normalize([raw]) == [expected]


def test_normalize_options_and_none() -> None:
    assert normalize(["ABC 123"], lowercase=False, collapse_digits=False) == ["ABC 123"]
    assert normalize(["ABC 123"], lowercase=False) == ["ABC 0"]
    assert normalize([None, "X"]) == ["", "x"]
    assert normalize(pd.Series(["A%41", None])) == ["aa", ""]
    assert normalize([]) == []


def test_steps_never_cross_text_boundaries() -> None:
    # '%4' + '1b' must not decode as %41; digit runs and entities end with their text.
    assert normalize(["a%4", "1b"], collapse_digits=False) == ["a%4", "1b"]
    assert normalize(["a%", "41"], collapse_digits=False) == ["a%", "41"]
    assert normalize(["12", "34", "x5"]) == ["0", "0", "x0"]
    assert normalize(["&lt", ";x"]) == ["&lt", ";x"]
    assert normalize(["&#x", "3c;"], collapse_digits=False) == ["&#x", "3c;"]


def test_undecodable_bytes_show_as_replacement_but_ids_keep_them() -> None:
    assert normalize(["a%FFb"]) == ["a\ufffdb"]
    ids = encode_texts(["a%FFb%00"], max_len=8)
    assert ids[0, :4].tolist() == [ord("a") + 1, 0xFF + 1, ord("b") + 1, 0 + 1]
    assert ids[0, 4:].tolist() == [0, 0, 0, 0]


# -- encode_texts ----------------------------------------------------------------------------
def test_encode_texts_shape_padding_and_cut() -> None:
    ids = encode_texts(["ab", "x" * 10, "", "é"], max_len=5)
    assert ids.dtype == np.int16 and ids.shape == (4, 5)
    assert ids[0].tolist() == [ord("a") + 1, ord("b") + 1, 0, 0, 0]
    assert ids[1].tolist() == [ord("x") + 1] * 5  # the start is kept
    assert ids[2].tolist() == [0] * 5
    assert ids[3].tolist() == [0xC3 + 1, 0xA9 + 1, 0, 0, 0]  # UTF-8 bytes
    assert decode_ids(ids) == ["ab", "xxxxx", "", "é"]


def test_encode_texts_raw_mode() -> None:
    ids = encode_texts(["A%41+"], max_len=6, normalized=False)
    assert decode_ids(ids) == ["A%41+"]


def test_encode_texts_cuts_after_decoding() -> None:
    # 9 raw bytes decode to 3: the cut applies to the normalized text
    assert decode_ids(encode_texts(["%41%42%43xyz"], max_len=4)) == ["abcx"]


def test_chunks_and_threads_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    alphabet = list("aZ09%2b+&#;lt x") + ["%41", "&lt;", "%2541", "1234"]
    texts = ["".join(rng.choice(alphabet, rng.integers(0, 40))) for _ in range(101)]
    whole = encode_texts(texts, max_len=32, n_threads=1)
    monkeypatch.setattr(text_module, "CHUNK_ROWS", 7)
    assert np.array_equal(encode_texts(texts, max_len=32, n_threads=3), whole)
    assert np.array_equal(whole, reference_ids(texts, 32))


_pieces = st.sampled_from(
    ["%", "%2", "%41", "%2525", "%7e", "%c3%a9", "+", "&", "&#", "&#60", "&#x3c;", "&lt;",
     "&para=", ";", "#", "0", "12", "99999", "A", "z", "é", "\x00", " ", "\n", "<", "'"]
)  # fmt: skip
_texts = st.lists(st.lists(_pieces, max_size=12).map("".join), max_size=12)


@settings(max_examples=150, deadline=None)
@given(texts=_texts, max_len=st.integers(1, 40), lower=st.booleans(), collapse=st.booleans())
def test_vectorized_encoding_matches_the_per_character_reference(
    texts: list[str], max_len: int, lower: bool, collapse: bool
) -> None:
    got = encode_texts(texts, max_len=max_len, lowercase=lower, collapse_digits=collapse)
    assert np.array_equal(got, reference_ids(texts, max_len, lower, collapse))


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(st.text(max_size=60), max_size=8))
def test_hostile_unicode_stays_in_range(texts: list[str]) -> None:
    ids = encode_texts(texts, max_len=16)
    assert ids.shape == (len(texts), 16)
    assert ids.min(initial=0) >= 0 and ids.max(initial=0) <= 256
    # padding only at the end of each row
    for row in ids:
        nz = np.flatnonzero(row == 0)
        assert len(nz) == 0 or (row[nz[0] :] == 0).all()


@pytest.mark.parametrize(
    ("bad", "message"),
    [("one string", "not one string"), ([1, 2], "only strings"), ([{"a": 1}], "only strings")],
)
def test_bad_texts_are_rejected(bad, message: str) -> None:
    with pytest.raises(InputError, match=message):
        encode_texts(bad)


@pytest.mark.parametrize("max_len", [0, -3, 2.5, True, "8"])
def test_bad_max_len(max_len) -> None:
    with pytest.raises(InputError, match="max_len"):
        encode_texts(["x"], max_len=max_len)


def test_decode_ids_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="2-D"):
        decode_ids(np.zeros(3))
    with pytest.raises(InputError, match="0..256"):
        decode_ids(np.array([[300]]))


# -- requests --------------------------------------------------------------------------------
def _requests() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ClientRequestMethod": ["GET", "POST", "GET"],
            "ClientRequestPath": ["/search", "/login", "/"],
            "ClientRequestQuery": ["?q=%27+or+1%3D1", "next=/home", ""],
            "RequestBody": ["", "user=ADMIN&pw=x", None],
            "ClientRequestUserAgent": ["Mozilla/5.0 (X11)", "", "curl/8.4.0"],
            "RequestHeaders": [
                {"Accept": "text/html", "Cookie": "sid=42", "X-Other": "no"},
                [("content-type", "application/x-www-form-urlencoded")],
                None,
            ],
            "label": ["attack", "normal", "normal"],
        }
    )


def test_request_texts_layout() -> None:
    assert request_texts(_requests()) == [
        "GET /search?q=%27+or+1%3D1 Mozilla/5.0 (X11) accept: text/html cookie: sid=42",
        "POST /login?next=/home user=ADMIN&pw=x content-type: application/x-www-form-urlencoded",
        "GET / curl/8.4.0",
    ]


def test_encode_requests_normalizes_the_request_text() -> None:
    ids = encode_requests(_requests(), max_len=100)
    assert ids.shape == (3, 100)
    assert decode_ids(ids) == [
        "get /search?q=' or 0=0 mozilla/0.0 (x0) accept: text/html cookie: sid=0",
        "post /login?next=/home user=admin&pw=x content-type: application/x-www-form-urlencoded",
        "get / curl/0.0.0",
    ]
    assert decode_ids(encode_requests(_requests(), max_len=12))[0] == "get /search?"


def test_requests_from_arrow_and_mapping_match_pandas() -> None:
    frame = _requests()
    expected = encode_requests(frame)
    columns = {c: frame[c].tolist() for c in frame.columns}
    assert np.array_equal(encode_requests(columns), expected)
    table = pa.Table.from_pandas(
        frame.drop(columns=["RequestHeaders"]), preserve_index=False
    ).append_column(
        "RequestHeaders",
        pa.array(
            [list(h.items()) if isinstance(h, dict) else h for h in frame["RequestHeaders"]],
            type=pa.map_(pa.string(), pa.string()),
        ),
    )
    assert np.array_equal(encode_requests(table), expected)
    assert np.array_equal(encode_requests(table.to_batches()[0]), expected)


def test_optional_columns_and_header_selection() -> None:
    rows = {"ClientRequestMethod": ["GET"], "ClientRequestPath": ["/a"]}
    assert request_texts(rows) == ["GET /a"]
    rows["RequestHeaders"] = [{"ACCEPT-Language": "de", "Accept": "*/*"}]
    assert request_texts(rows) == ["GET /a accept: */* accept-language: de"]
    assert request_texts(rows, headers=("Accept-Language",)) == ["GET /a accept-language: de"]
    assert request_texts(rows, headers=()) == ["GET /a"]


def test_missing_required_columns_are_named() -> None:
    with pytest.raises(InputError, match="ClientRequestPath"):
        encode_requests({"ClientRequestMethod": ["GET"]})
    with pytest.raises(InputError, match="different lengths"):
        encode_requests({"ClientRequestMethod": ["GET"], "ClientRequestPath": ["/", "/b"]})
    with pytest.raises(InputError, match="DataFrame"):
        encode_requests(["GET /"])
    with pytest.raises(InputError, match="RequestHeaders"):
        encode_requests(
            {"ClientRequestMethod": ["GET"], "ClientRequestPath": ["/"], "RequestHeaders": [5]}
        )


def test_empty_request_frame() -> None:
    empty = _requests().iloc[:0]
    assert encode_requests(empty, max_len=8).shape == (0, 8)


def test_text_encoder_round_trip() -> None:
    enc = TextEncoder(max_len=64, lowercase=False, headers=("accept",))
    again = TextEncoder.from_dict(enc.to_dict())
    assert again == enc
    assert np.array_equal(again.encode_requests(_requests()), enc.encode_requests(_requests()))
    assert TextEncoder().headers == DEFAULT_HEADERS
    with pytest.raises(InputError, match="max_len"):
        TextEncoder.from_dict({"lowercase": True, "collapse_digits": True})


def test_requests_read_back_from_the_store(embedded_store) -> None:
    frame = _requests().drop(columns=["label"])
    frame["RequestBody"] = frame["RequestBody"].fillna("")
    frame["RequestHeaders"] = [
        h if isinstance(h, dict) else dict(h or []) for h in frame["RequestHeaders"]
    ]
    frame["RayID"] = ["r0", "r1", "r2"]
    frame["EdgeStartTimestamp"] = pd.Timestamp("2026-11-01", tz="UTC")
    embedded_store.insert_df("http_requests", frame)
    sql = "SELECT * FROM http_requests ORDER BY RayID"
    expected = encode_requests(_requests())
    assert np.array_equal(encode_requests(embedded_store.query_df(sql)), expected)
    assert np.array_equal(encode_requests(embedded_store.query_arrow(sql)), expected)
