"""The `assistant` command's arguments: one sub-parser per command."""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant import __version__


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="assistant", description="Offline push-to-talk voice assistant."
    )
    p.add_argument("--version", action="version", version=f"assistant {__version__}")
    p.add_argument("--config", metavar="FILE", help="config file (default: search path)")
    p.add_argument("--models-dir", metavar="DIR", help="directory holding the model files")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--profile", action="store_true", help="log every stage's timings per turn")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    # --profile also after the command; SUPPRESS keeps it from resetting the global one.
    turn = argparse.ArgumentParser(add_help=False)
    turn.add_argument("--profile", action="store_true", default=argparse.SUPPRESS)
    turn.add_argument(
        "--hub",
        metavar="tcp://HOST:PORT",
        help="recognize, answer and speak on this `assistant serve` (a satellite)",
    )

    sub.add_parser(
        "run", parents=[turn], help="the appliance: push-to-talk voice turns"
    ).add_argument(
        "--keyboard", action="store_true", help="Enter starts and stops a turn (no GPIO)"
    )

    c = sub.add_parser("console", parents=[turn], help="text console on the language model")
    c.add_argument("--speak", dest="speak", action="store_true", default=None)
    c.add_argument("--no-speak", dest="speak", action="store_false")
    c.add_argument("--wav-dir", type=Path, help="write spoken replies as numbered WAV files here")

    a = sub.add_parser("ask", parents=[turn], help="answer one question and exit")
    a.add_argument("question")
    a.add_argument("--wav", type=Path, help="write the spoken reply to this WAV file")
    a.add_argument("--json", action="store_true", help="print one JSON object")

    li = sub.add_parser("listen", parents=[turn], help="one voice turn from a WAV file")
    li.add_argument("--wav", type=Path, required=True, help="the question, any rate and channels")
    li.add_argument("--out", type=Path, help="write the spoken reply to this WAV file")
    li.add_argument("--json", action="store_true", help="print one JSON object")
    li.add_argument("--engine", choices=["vosk", "whisper", "moonshine"], help="speech recognizer")
    li.add_argument(
        "--realtime", action="store_true", help="deliver the file at its own pace, like a mic"
    )
    li.add_argument(
        "--wake", action="store_true", help="hands-free: wait for the wake word, then listen"
    )
    li.add_argument(
        "--reference",
        type=Path,
        metavar="PLAYED",
        help="cancel this (what the speaker played from the file's start) from the file first",
    )

    w = sub.add_parser("wake", help="print every wake-word detection in an audio file")
    w.add_argument("--wav", type=Path, required=True, help="the audio, any rate and channels")
    w.add_argument("--json", action="store_true", help="print one JSON object")
    w.add_argument(
        "--reference",
        type=Path,
        metavar="PLAYED",
        help="cancel this (what the speaker played from the file's start) from the file first",
    )

    e = sub.add_parser("echo", help="cancel what the speaker played from a mic recording")
    e.add_argument("--mic", type=Path, required=True, help="what the mic recorded, any rate")
    e.add_argument(
        "--reference", type=Path, required=True, help="what the speaker played from its start"
    )
    e.add_argument("--out", type=Path, required=True, help="write the cleaned audio here (WAV)")
    e.add_argument("--json", action="store_true", help="print one JSON object")

    b = sub.add_parser("bench", help="benchmark every stage and the whole turn")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--turns", type=int, default=3, help="rounds over the questions (default 3)")
    b.add_argument("--threads-sweep", action="store_true", help="also sweep llama n_threads")
    b.add_argument("--questions", type=Path, help="one question per line (default: built-in)")
    b.add_argument("--no-memory", dest="memory", action="store_false", help="skip the RSS probe")
    b.add_argument(
        "--unpaced",
        dest="paced",
        action="store_false",
        help="feed the streaming arm the whole file at once (no recognition during speech)",
    )
    b.add_argument("--soak", type=int, metavar="N", help="instead: N mixed turns in one process")
    b.add_argument(
        "--quality",
        action="store_true",
        help="instead: answer accuracy in en, pt and es of each installed language model",
    )
    b.add_argument(
        "--llm", action="append", metavar="ID", help="--quality: only these models (repeatable)"
    )
    b.add_argument("--soak-out", type=Path, metavar="FILE", help="per-turn soak rows (.csv/.json)")
    b.add_argument(
        "--hub-clients",
        type=int,
        metavar="K",
        help="with --soak: soak the hub instead, K clients taking whole turns over Wyoming",
    )

    sv = sub.add_parser("serve", help="serve the engines to the LAN over Wyoming (the hub)")
    sv.add_argument(
        "--uri", help="where to listen, tcp://IP:PORT (default: serve.uri, tcp://127.0.0.1:10700)"
    )

    sub.add_parser("devices", help="list audio input and output devices")
    dr = sub.add_parser("doctor", help="check this machine, the models and the config")
    dr.add_argument(
        "--echo",
        action="store_true",
        help="play a 1.5 s test sound and measure the speaker's echo at the microphone",
    )
    dr.add_argument("--json", action="store_true", help="with --echo: print one JSON object")

    cfg = sub.add_parser("config", help="configuration")
    cfg.add_subparsers(dest="config_command", metavar="ACTION", required=True).add_parser(
        "show", help="print the effective configuration"
    )

    m = sub.add_parser("models", help="list, fetch, verify and switch models")
    msub = m.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    msub.add_parser("list", help="installed and available models, and whether they fit")
    f = msub.add_parser("fetch", help="download models and check their SHA-256")
    f.add_argument("ids", nargs="*", help="model ids or sets (default: the embedded defaults)")
    f.add_argument("--set", dest="model_set", help="a named set: default, test, en, pt, es")
    v = msub.add_parser("verify", help="re-hash installed models against their SHA-256")
    v.add_argument("ids", nargs="*")
    r = msub.add_parser("recommend", help="the models that fit this board and language")
    r.add_argument("--language", choices=["en", "pt", "es"], help="default: the config's")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    u = msub.add_parser("use", help="point the config file at an installed model")
    u.add_argument("id", help="model id, e.g. qwen2.5-0.5b")
    return p
