"""The devices: microphone or WAV file, speaker or WAV files, GPIO or the
keyboard as the button, and the status LEDs."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from assistant.appliance.gpio import GpioButtons, LedIndicator, gpio_available
from assistant.appliance.keyboard import KeyboardButton
from assistant.core.config import Config
from assistant.core.errors import ConfigError, GpioError
from assistant.pipeline.controller import Controller
from assistant.stages.audio.base import AudioSink, AudioSource
from assistant.stages.audio.devices import have_output_device
from assistant.stages.audio.mic import SoundDeviceSource
from assistant.stages.audio.paced import PacedWavSource
from assistant.stages.audio.reference import (
    ReferenceTap,
    TappedSoundDeviceSink,
    TimedSoundDeviceSource,
)
from assistant.stages.audio.speaker import SoundDeviceSink
from assistant.stages.audio.wavfile import WavFileSink, WavFileSource
from assistant.stages.echo import EchoPath, echo_unavailable
from assistant.stages.echo.live import EchoCancellingSource

log = logging.getLogger(__name__)


def build_source(config: Config, wav: Path | None = None, *, realtime: bool = False) -> AudioSource:
    """The microphone, or the WAV file ``wav`` played as one: as fast as it
    is read (streamed from `open`), or with ``realtime`` at the pace it was
    spoken (`build_paced_source`)."""
    if wav is not None:
        if realtime:
            return build_paced_source(config, wav)
        return WavFileSource(wav, block_ms=config.audio.block_ms)
    return SoundDeviceSource(config.audio)


def build_paced_source(
    config: Config, wav: Path | None = None, max_s: float | None = None
) -> PacedWavSource:
    """The audio file ``wav`` (its first ``max_s`` seconds) as a live
    microphone in ``audio.block_ms`` blocks, read now: `AudioError` if it
    cannot be. With no ``wav``, `PacedWavSource.load` gives it one later."""
    source = PacedWavSource(config.audio.block_ms)
    if wav is not None:
        source.load(wav, max_s)
    return source


def build_speaker(config: Config) -> AudioSink:
    """The sound card's output (``audio.output_device``), opened by the controller."""
    return SoundDeviceSink(config.audio)


@dataclass(frozen=True)
class LiveAudio:
    """The appliance's sound card: the microphone, the speaker, and the echo
    canceller between them when it runs. The controller opens and closes
    ``speaker``, the wake listener (or the controller) ``source``; `close`
    releases the canceller once neither runs any more."""

    source: AudioSource
    speaker: AudioSink
    echo_off: str | None
    """None while the echo canceller runs; else why it does not, one line."""

    def close(self) -> None:
        if isinstance(self.source, EchoCancellingSource):
            self.source.shutdown()


def echo_off_reason(config: Config) -> str | None:
    """Why ``assistant run`` would not cancel the speaker's echo, in one
    line; None when it would ([echo], libspeexdsp)."""
    if config.echo.enabled is False:
        return "off in the config ([echo] enabled = false)"
    return echo_unavailable()


def build_live_audio(config: Config) -> LiveAudio:
    """The sound card's microphone and speaker, with the echo canceller
    between them when ``[echo] enabled`` allows and it can run here (logged
    once when it cannot). `ConfigError` when ``enabled = true`` and it
    cannot run."""
    reason = echo_off_reason(config)
    if reason is None:
        tap, echo = ReferenceTap(), config.echo
        path = EchoPath(
            TimedSoundDeviceSource.sample_rate_hz,
            max_delay_s=echo.max_delay_s,
            tail_s=echo.tail_s,
            suppress=echo.suppress,
        )
        source = EchoCancellingSource(TimedSoundDeviceSource(config.audio), tap, path)
        log.info("echo canceller on")
        return LiveAudio(source, TappedSoundDeviceSink(config.audio, tap), None)
    if config.echo.enabled is True:
        raise ConfigError(f'[echo] enabled = true, but {reason}; or set enabled = "auto"')
    log.info("echo canceller off: %s", reason)
    return LiveAudio(build_source(config), build_speaker(config), reason)


def build_echo_probe(config: Config) -> tuple[TimedSoundDeviceSource, AudioSink, ReferenceTap]:
    """The configured microphone and speaker as ``doctor --echo`` measures
    them (`echo.live.measure_room`): the timed microphone, the tapped
    speaker and the tap between them, none opened."""
    tap = ReferenceTap()
    return TimedSoundDeviceSource(config.audio), TappedSoundDeviceSink(config.audio, tap), tap


def build_sink(config: Config, wav: Path | None = None, wav_dir: Path | None = None) -> AudioSink:
    """The speaker, or WAV files: ``wav`` (one file, each reply overwrites it),
    ``wav_dir`` or ``./replies`` with no sound card (numbered, the newest
    ``audio.keep_replies`` kept). `AudioError` now if a WAV target cannot be
    written, so a caller that builds the sink first fails before loading models."""
    if wav is not None:
        sink = WavFileSink(wav)
    elif wav_dir is None and have_output_device():
        return build_speaker(config)
    else:
        target = wav_dir or Path.cwd() / "replies"
        log.info("no sound card: spoken replies go to %s", target)
        sink = WavFileSink(target, numbered=True, keep=config.audio.keep_replies)
    sink.check_writable()
    return sink


def use_gpio(config: Config, *, keyboard: bool = False, stdin: TextIO | None = None) -> bool:
    """Whether the appliance's buttons and LEDs are on GPIO; False means
    Enter on ``stdin`` is the button. Raises `GpioError` when neither works
    (no usable GPIO and ``stdin`` is not a terminal, unless ``keyboard``)."""
    if keyboard:
        return False
    reason = gpio_available(config.gpio) if config.gpio.enabled else None
    if config.gpio.enabled and reason is None:
        return True
    if not (stdin or sys.stdin).isatty():
        raise GpioError(
            f"no push-to-talk input: {reason or 'GPIO is disabled in the config'}, "
            "and stdin is not a terminal; enable [gpio] or run `assistant run` in one"
        )
    if reason:
        log.warning("%s", reason)
    return False


def build_buttons(
    config: Config, controller: Controller, *, gpio: bool, stdin: TextIO | None = None
) -> GpioButtons | KeyboardButton:
    """The push-to-talk input feeding ``controller``: GPIO buttons, or Enter
    on ``stdin`` (started here). The caller closes it after the controller
    has stopped."""
    if gpio:
        return GpioButtons(config.gpio, controller.submit)
    button = KeyboardButton(
        controller.submit, lambda: controller.state, mode=config.turn.mode, stream=stdin
    )
    button.start()
    log.info("press Enter to start talking, Enter again to stop")
    return button


def build_indicator(config: Config, *, gpio: bool) -> LedIndicator:
    """The status LEDs; dark (touching no pin) when the buttons are not on
    GPIO. Subscribe its ``on_event`` to the bus; the caller closes it."""
    gpio_config = config.gpio if gpio else replace(config.gpio, led_kind="none")
    return LedIndicator(gpio_config)
