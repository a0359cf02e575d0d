"""The clean wake-word set and the long non-wake streams of ``clean.py``.

Positives: "hey mycroft" from piper's joe voice at five speaking rates
(`PIPER_SCALES`, about 250 to 140 words a minute) and from six espeak-ng
voices (two of them also with a variant) at three rates (`ESPEAK_WPM`),
each at three peak levels (`LEVELS_DBFS`). Negatives: the project's
questions, its reply templates and long texts (the licences Debian ships)
said by the same voices at the same rates, one sentence after another.

Synthesis is the slow part (piper runs ~10-20x real time here), so every
clip is cached as ``.npy`` under ``--cache`` (``/tmp``, never the repo).
"""

from __future__ import annotations

import hashlib
import re
import sys
import tomllib
from pathlib import Path

import corpus
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PIPER_SCALES = {0.8: 248, 1.0: 210, 1.25: 187, 1.5: 159, 1.75: 141}
"""joe's ``length_scale`` -> words a minute, measured on a 19-word sentence."""
ESPEAK_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-us+f3", "en+m3")
"""Six espeak-ng voices (accents); ``+f3``/``+m3`` are variants of two of them."""
ESPEAK_WPM = (140, 175, 210)
LEVELS_DBFS = (-30.0, -18.0, -6.0)
"""Peak levels of the positives: a soft voice far off to a loud one close by."""
PIPER_PHRASES = ("hey mycroft", "Hey Mycroft.", "Hey, Mycroft!")
ESPEAK_PHRASES = ("hey mycroft", "Hey, Mycroft!")
NEAR_WORDS = (
    "My craft fair is on Friday.",
    "Hey, Mike, grab the raft.",
    "Mister Croft called about the heater.",
    "Hey, microwave the soup for me.",
    "They make crafts in the shed.",
    "Hey Marco, hand me the crowbar.",
    "Hey, my cat is hungry.",
    "Make a crossword for me.",
    "Hey, Mike, are you coming?",
    "I like Minecraft a lot.",
)
"""Sentences that sound partly like "hey mycroft": the hardest negatives."""
_WAKE_LIKE = re.compile(r"mycroft|jarvis|nabu|alexa", re.IGNORECASE)


class Voices:
    """Every voice of the set behind one cached ``say``."""

    def __init__(self, models_dir: Path, cache: Path) -> None:
        self.cache = Path(cache)
        self.cache.mkdir(parents=True, exist_ok=True)
        self._models_dir = models_dir
        self._piper: corpus.Piper | None = None

    def say(self, voice: str, rate: float, text: str) -> np.ndarray:
        """``text`` by ``voice`` ("piper" at ``length_scale`` ``rate``, else an
        espeak-ng voice at ``rate`` wpm), mono int16 at 16 kHz."""
        key = hashlib.sha1(f"{voice}|{rate}|{text}".encode()).hexdigest()[:20]
        path = self.cache / f"{key}.npy"
        if path.exists():
            return np.load(path)
        if voice == "piper":
            if self._piper is None:
                self._piper = corpus.Piper(self._models_dir)
            audio = self._piper.say(text, rate)
        else:
            audio = corpus.espeak(text, voice, int(rate))
        np.save(path, audio)
        return audio


def peak(audio: np.ndarray, dbfs: float) -> np.ndarray:
    """``audio`` scaled so its peak is at ``dbfs``."""
    x = audio.astype(np.float64)
    return corpus._clip(x * (32767 * 10 ** (dbfs / 20) / max(np.abs(x).max(), 1.0)))


def positives(voices: Voices) -> list[dict]:
    """Rows of ``voice``, ``wpm``, ``text`` and the clean clip ``audio``."""
    rows = []
    for scale, wpm in PIPER_SCALES.items():
        for text in PIPER_PHRASES:
            rows.append(
                {
                    "voice": "piper-joe",
                    "wpm": wpm,
                    "text": text,
                    "audio": voices.say("piper", scale, text),
                }
            )
    for voice in ESPEAK_VOICES:
        for wpm in ESPEAK_WPM:
            for text in ESPEAK_PHRASES:
                audio = voices.say(voice, wpm, text)
                rows.append({"voice": f"espeak-{voice}", "wpm": wpm, "text": text, "audio": audio})
    return rows


def near_words(voices: Voices) -> list[dict]:
    """`NEAR_WORDS` by joe (two rates) and every espeak-ng voice and rate."""
    speakers = [("piper", 1.0), ("piper", 1.5)]
    speakers += [(v, w) for v in ESPEAK_VOICES for w in ESPEAK_WPM]
    return [
        {"voice": voice, "wpm": rate, "text": text, "audio": voices.say(voice, rate, text)}
        for text in NEAR_WORDS
        for voice, rate in speakers
    ]


def _sentences(text: str) -> list[str]:
    flat = re.sub(r"[#*`|_>\[\]()]", " ", text)
    flat = re.sub(r"\s+", " ", flat)
    out = []
    for piece in re.split(r"(?<=[.!?;:])\s+", flat):
        words = piece.split()
        if 4 <= len(words) <= 40 and not _WAKE_LIKE.search(piece):
            out.append(" ".join(words))
    return out


def questions() -> list[str]:
    """What people ask it: the bench's and the soak's questions, the quality set's."""
    sys.path.insert(0, str(ROOT))
    from assistant.bench import soak_hub, soak_plan

    lines = (ROOT / "benchmarks" / "questions.txt").read_text().splitlines()
    out = [line for line in lines if line and not line.startswith("#")]
    out += (
        list(soak_hub.QUESTIONS) + list(soak_plan.LLM_QUESTIONS) + list(soak_plan.VOICE_QUESTIONS)
    )
    quality = tomllib.loads((ROOT / "assistant" / "bench" / "quality.toml").read_text())
    out += [q["text"] for q in quality["question"] if q.get("language") == "en"]
    return list(dict.fromkeys(out))


def long_texts() -> list[str]:
    """Sentences of long English prose: the licences Debian ships."""
    out = []
    for name in ("GPL-3", "Apache-2.0", "GFDL-1.3", "LGPL-3", "MPL-2.0", "Artistic"):
        path = Path("/usr/share/common-licenses") / name
        if path.exists():
            out += _sentences(path.read_text(errors="replace"))
    return out


def talk(voices: Voices, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """``seconds`` of other people's speech: questions, everyday sentences and
    long texts, each by the next voice and rate, at -30..-6 dBFS peaks."""
    texts = questions() + corpus.sentences(120, seed=7) + long_texts()
    speakers = [("piper", s) for s in PIPER_SCALES] + [
        (v, w) for v in ESPEAK_VOICES for w in ESPEAK_WPM
    ]
    return _stream(
        (voices.say(*speakers[i % len(speakers)], texts[i % len(texts)]) for i in range(10**6)),
        seconds,
        rng,
        lambda clip: peak(clip, float(rng.uniform(-30, -6))),
    )


def replies(voices: Voices, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """``seconds`` of its own answers (joe at the default rate: reply
    templates and long texts) as its microphone hears its speaker: quieter,
    a room, some noise. Raw: no echo cancelling."""
    texts = corpus.replies(150, seed=5) + long_texts()[::-1] + questions()

    def at_mic(clip: np.ndarray) -> np.ndarray:
        clip = corpus.room(corpus.gain_db(clip, float(rng.uniform(-12, 0))), 0.3, rng)
        return corpus.noisy(clip, float(rng.uniform(20, 35)), rng)

    return _stream(
        (voices.say("piper", 1.0, texts[i % len(texts)]) for i in range(10**6)),
        seconds,
        rng,
        at_mic,
    )


def _stream(clips, seconds: float, rng: np.random.Generator, vary) -> np.ndarray:
    parts, total = [], 0
    for clip in clips:
        if total >= seconds * corpus.RATE:
            break
        gap = np.zeros(int(rng.uniform(0.1, 0.8) * corpus.RATE), np.int16)
        parts += [vary(clip), gap]
        total += len(clip) + len(gap)
    return np.concatenate(parts)
