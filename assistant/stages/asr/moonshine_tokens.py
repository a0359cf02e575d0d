"""Moonshine's ``tokenizer.bin``: token ids back to text.

The file is Moonshine's own format: one record per token id, in id order,
each a length byte and then that many bytes of the token's UTF-8 piece
(SentencePiece style: ``▁`` stands for a space; ids 3 to 258 are the
single-byte fallback pieces, raw bytes that may be part of a longer UTF-8
character). The pieces of ids 0, 1 and 2 are ``<unk>``, ``<s>`` (the
decoder's start) and ``</s>`` (its end). The model's output layer is wider
than the file (32768 against 32000): ids past the end have no text. A length
byte of 128 or more does not occur in the English file and is refused, since
its meaning is not known here.
"""

from __future__ import annotations

from pathlib import Path

from assistant.core.errors import ModelError

START_ID = 1
"""``<s>``: the first input of the decoder."""
END_ID = 2
"""``</s>``: the decoder is done."""
_SPECIAL = frozenset({0, START_ID, END_ID})
_SPACE = "\u2581".encode()


class MoonshineTokenizer:
    """The pieces of every token id, read once; `decode` is pure and thread-safe."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    @classmethod
    def load(cls, path: Path) -> MoonshineTokenizer:
        """Read ``tokenizer.bin``; `ModelError` naming the file when it is
        missing, truncated, or not in this format."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ModelError(
                f"Moonshine tokenizer {path} cannot be read ({exc.strerror}); "
                "run `assistant models fetch moonshine-base-en`"
            ) from None
        return cls(parse(data, str(path)))

    def __len__(self) -> int:
        return len(self.pieces)

    def decode(self, ids: list[int]) -> str:
        """The text of ``ids``, stripped; special and unknown ids give nothing,
        and bytes that are no valid UTF-8 become U+FFFD."""
        raw = b"".join(
            self.pieces[i] for i in ids if i not in _SPECIAL and 0 <= i < len(self.pieces)
        )
        return raw.replace(_SPACE, b" ").decode("utf-8", errors="replace").strip()


def parse(data: bytes, name: str = "tokenizer.bin") -> list[bytes]:
    """Every piece of a ``tokenizer.bin``'s bytes, by id; `ModelError` naming
    ``name`` when the records do not fill it exactly."""
    pieces: list[bytes] = []
    at = 0
    while at < len(data):
        length = data[at]
        if length >= 0x80:
            raise ModelError(
                f"Moonshine tokenizer {name}: record {len(pieces)} has length byte {length}, "
                "which this reader does not know; fetch the model again"
            )
        end = at + 1 + length
        if end > len(data):
            raise ModelError(f"Moonshine tokenizer {name} is truncated; fetch the model again")
        pieces.append(data[at + 1 : end])
        at = end
    if len(pieces) <= END_ID or pieces[END_ID] != b"</s>":
        raise ModelError(f"Moonshine tokenizer {name} has no </s> at id {END_ID}; not a tokenizer")
    return pieces
