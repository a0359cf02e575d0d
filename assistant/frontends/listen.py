"""``assistant listen --wav``: one whole voice turn from a WAV file, as the
appliance runs it (the shared `compose.run_file_turn`), with JSON-ready
results. With ``--realtime`` the file is spoken into the turn at its own
pace, as a microphone delivers it, so recognition overlaps the speech."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from assistant.appliance.run import log_turns
from assistant.compose import build_engines, build_sink, run_file_turn
from assistant.core.config import Config
from assistant.core.events import TurnFinished
from assistant.stages.audio.audiofile import inspect_audio
from assistant.stages.audio.wavfile import WavFileSink

log = logging.getLogger(__name__)

MAX_LISTEN_S = 600.0
"""The file is the whole question: hear up to this much of it, however
short ``turn.max_listen_s`` is for a held button."""

TIMING_KEYS = (
    "asr_final",
    "llm_first_token",
    "tts_first_audio",
    "ttfa",
    "voiced_to_audio",
    "total",
)
"""``timings_ms`` of the JSON output, in ms; a stage that did not run is
None. ``ttfa`` counts from the release (the file's last sample),
``voiced_to_audio`` from its last voiced sample (``--realtime`` only)."""


def listen_once(
    config: Config,
    wav: Path,
    out: Path | None,
    profile: bool = False,
    *,
    realtime: bool = False,
    reference: Path | None = None,
) -> dict:
    """Run one voice turn on ``wav`` and return the JSON-ready result.

    The reply is spoken to ``out`` (a WAV file) when given, else to the
    speaker (WAV files in ``./replies`` without one). Engines are warmed up
    first, like the appliance's, so the timings are those of a real turn.
    Raises `AssistantError` for a bad file (before any model loads), a failed
    turn, or a file with no recognizable speech. The file is streamed, so
    its length costs no memory; only its first `MAX_LISTEN_S` are heard.
    With ``realtime`` it is delivered at its own pace in ``audio.block_ms``
    blocks (and read whole first, up to `MAX_LISTEN_S`), and the result has
    ``ready_fraction``: how much of the transcript was ready at the release.
    With ``reference`` (what the speaker played from the file's start), the
    turn hears ``wav`` cleaned of it by the echo canceller.
    """
    if reference is not None:
        from assistant.frontends.echo import cleaned_wav

        with cleaned_wav(wav, reference) as clean:
            return listen_once(config, clean, out, profile, realtime=realtime)
    info = inspect_audio(wav)
    if info.duration_s > MAX_LISTEN_S:
        log.warning(
            "%s is %.0f s long; only the first %.0f s are heard", wav, info.duration_s, MAX_LISTEN_S
        )
    if out is not None:
        WavFileSink(out).check_writable()  # before the models load, not after the answer
    with build_engines(config) as engines:
        event = run_file_turn(
            engines,
            config,
            wav,
            build_sink(config, wav=out),
            max_listen_s=max(config.turn.max_listen_s, MAX_LISTEN_S),
            observers=[log_turns(profile)],
            realtime=realtime,
        )
    return turn_result(config, event, out, realtime, ready_fraction=event.ready_fraction)


def turn_result(
    config: Config, event: TurnFinished, out: Path | None, realtime: bool, **extra: Any
) -> dict:
    """The JSON-ready result of a file turn, with ``extra`` keys after the common ones."""
    result = {
        "transcript": event.transcript,
        "doubt": event.transcript_doubt,
        "reply": event.reply,
        "timings_ms": {k: event.timings_ms.get(k) for k in TIMING_KEYS},
        "tokens_per_s": event.tokens_per_s,
        "path": event.path,
        "engine": config.asr.engine,
        "realtime": realtime,
        **extra,
    }
    if out is not None:
        result["wav"] = str(out)
    return result
