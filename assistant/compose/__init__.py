"""The composition root: the one package that picks concrete backends and devices.

Every front end (``run``, ``console``, ``ask``, ``listen``, ``doctor``, the
bench) asks it for its engines, devices and controller; everything below it
receives them as arguments, so tests pass fakes (``tests/support/fakes.py``).
`engines` builds the recognizer, language model and voice, `devices` the
audio, buttons and LEDs, `turns` the conversation, skills and controller.

Ownership: the caller of a ``build_*`` function owns what it returns and
closes it. The controller opens and closes its source and sink itself. Stop
the controller before closing the buttons, indicator and skills, and close
the engines only once no worker thread is inside one (`Controller.stop`
returned True).
"""

from assistant.compose.devices import (
    build_buttons,
    build_indicator,
    build_sink,
    build_source,
    build_speaker,
    use_gpio,
)
from assistant.compose.engines import (
    LLAMA_SAMPLING,
    Engines,
    build_engines,
    build_llm,
    build_stt,
    build_tts,
    make_speech_to_text,
)
from assistant.compose.turns import (
    FILE_TURN_ALIVE_S,
    build_controller,
    build_conversation,
    build_skills,
    run_file_turn,
)

__all__ = [
    "FILE_TURN_ALIVE_S",
    "LLAMA_SAMPLING",
    "Engines",
    "build_buttons",
    "build_controller",
    "build_conversation",
    "build_engines",
    "build_indicator",
    "build_llm",
    "build_sink",
    "build_skills",
    "build_source",
    "build_speaker",
    "build_stt",
    "build_tts",
    "make_speech_to_text",
    "run_file_turn",
    "use_gpio",
]
