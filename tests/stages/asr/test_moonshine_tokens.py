"""Moonshine's tokenizer.bin reader: crafted files (fast), then the real
file on the real model's output (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.core.errors import ModelError
from assistant.stages.asr.moonshine_tokens import END_ID, START_ID, MoonshineTokenizer, parse
from tests.support.engines import shared_moonshine
from tests.support.models import require

SPACE = "\u2581"


def tokenizer_bin(pieces: list[bytes]) -> bytes:
    return b"".join(bytes([len(p)]) + p for p in pieces)


def crafted() -> MoonshineTokenizer:
    """The real file's first ids (specials, then one piece per byte) and a few words."""
    pieces = [b"<unk>", b"<s>", b"</s>", *(bytes([b]) for b in range(256))]
    pieces += [f"{SPACE}hello".encode(), f"{SPACE}wor".encode(), b"ld", b"."]
    return MoonshineTokenizer(parse(tokenizer_bin(pieces)))


def test_pieces_join_into_words_and_specials_say_nothing():
    tok = crafted()
    hello, wor, ld, stop = 259, 260, 261, 262
    assert tok.decode([START_ID, hello, wor, ld, stop, END_ID]) == "hello world."
    assert tok.decode([0, hello, 99999]) == "hello"  # <unk> and ids past the file


def test_byte_pieces_make_up_a_character():
    tok = crafted()
    e_acute = [3 + b for b in "é".encode()]
    assert tok.decode([259, *e_acute]) == "helloé"
    assert tok.decode(e_acute[:1]) == "\ufffd"  # half a character


def test_a_truncated_file_is_one_line():
    data = tokenizer_bin([b"<unk>", b"<s>", b"</s>", b"abc"])
    with pytest.raises(ModelError, match="truncated"):
        parse(data[:-1])


def test_a_file_without_the_end_token_is_not_a_tokenizer(tmp_path):
    path = tmp_path / "tokenizer.bin"
    path.write_bytes(tokenizer_bin([b"a", b"b", b"c"]))
    with pytest.raises(ModelError, match="not a tokenizer"):
        MoonshineTokenizer.load(path)
    with pytest.raises(ModelError, match="cannot be read"):
        MoonshineTokenizer.load(tmp_path / "missing.bin")


def encode(tok: MoonshineTokenizer, text: str) -> list[int]:
    """Greedy longest-piece encoding: enough to turn a decoded text back into ids."""
    ids_of = {piece: i for i, piece in enumerate(tok.pieces) if i > END_ID}
    data = (SPACE + text.replace(" ", SPACE)).encode()
    ids, at = [], 0
    while at < len(data):
        end = max(e for e in range(at + 1, min(len(data), at + 48) + 1) if data[at:e] in ids_of)
        ids.append(ids_of[data[at:end]])
        at = end
    return ids


@pytest.mark.slow
def test_the_real_file_round_trips_the_models_output(models_dir: Path, speak):
    path = require(models_dir / "moonshine-base-en" / "tokenizer.bin")
    tok = MoonshineTokenizer.load(path)
    assert tok.pieces[:3] == [b"<unk>", b"<s>", b"</s>"] and len(tok) == 32000
    engine = shared_moonshine(models_dir)
    ids, _logprob, ended = engine._loaded().generate(speak("What is the capital of France?"), 40)
    text = tok.decode(ids)
    assert ended and text
    assert tok.decode(encode(tok, text)) == text
    assert tok.decode([START_ID, *ids, END_ID]) == text
