"""``assistant wake --wav`` (every wake-word detection in a file) and
``assistant listen --wav --wake`` (one hands-free turn from a file)."""

from __future__ import annotations

import logging
from pathlib import Path

from assistant.appliance.run import log_turns
from assistant.compose import build_engines, build_sink
from assistant.compose.handsfree import build_detector, run_wake_file_turn
from assistant.core.config import Config
from assistant.stages.audio.audiofile import inspect_audio
from assistant.stages.audio.paced import read_samples
from assistant.stages.audio.wavfile import WavFileSink

log = logging.getLogger(__name__)

MAX_FILE_S = 3600.0
"""``wake --wav`` reads at most this much of a file (an hour; ~115 MB)."""
_BLOCK = 320  # 20 ms at 16 kHz, as the microphone would give it


def detect_file(config: Config, wav: Path, reference: Path | None = None) -> list[dict]:
    """Every detection of the configured wake words in ``wav``, as
    ``{"word", "t_s", "score"}`` in order; with ``reference`` (what the
    speaker played from the file's start), after cancelling it from ``wav``.
    `AudioError` for a bad file and `ModelError` without the ``.[wake]``
    extra, both before any work."""
    inspect_audio(wav)
    samples = None
    if reference is not None:
        from assistant.frontends.echo import cancel_files

        samples = cancel_files(wav, reference)[0]
    detector = build_detector(config)
    try:
        if samples is None:
            samples = read_samples(wav, MAX_FILE_S)
        found = []
        for start in range(0, len(samples), _BLOCK):
            found += detector.process(samples[start : start + _BLOCK])
    finally:
        detector.close()
    return [{"word": d.word, "t_s": d.t_s, "score": d.score} for d in found]


def format_detections(found: list[dict]) -> str:
    """One line per detection for a terminal, or a line saying there was none."""
    if not found:
        return "no wake word heard"
    return "\n".join(f"{d['t_s']:8.2f} s  {d['word']}  {d['score']:.3f}" for d in found)


def listen_wake(
    config: Config,
    wav: Path,
    out: Path | None,
    *,
    realtime: bool,
    profile: bool = False,
    reference: Path | None = None,
) -> dict:
    """One hands-free turn on ``wav``: the listen result plus ``wake_word``,
    ``wake_t_s`` and ``endpoint_ms`` (the last voiced audio to the end of
    listening; meaningful with ``realtime``). With ``reference``, on ``wav``
    cleaned of it first. `AssistantError` when no wake word is heard or
    nothing follows it."""
    from assistant.frontends.listen import MAX_LISTEN_S, turn_result

    if reference is not None:
        from assistant.frontends.echo import cleaned_wav

        with cleaned_wav(wav, reference) as clean:
            return listen_wake(config, clean, out, realtime=realtime, profile=profile)
    inspect_audio(wav)
    if out is not None:
        WavFileSink(out).check_writable()
    with build_engines(config) as engines:
        event, wake, endpoint_ms = run_wake_file_turn(
            engines,
            config,
            wav,
            build_sink(config, wav=out),
            realtime=realtime,
            max_listen_s=max(config.turn.max_listen_s, MAX_LISTEN_S),
            observers=[log_turns(profile)],
        )
    return turn_result(
        config,
        event,
        out,
        realtime,
        wake_word=wake.word,
        wake_t_s=wake.t_s,
        endpoint_ms=endpoint_ms,
    )
