"""The `assistant` command. Arguments become typed config here, at the edge.

Every expected failure is an `AssistantError`, printed as one line with a
non-zero exit; Ctrl-C exits quietly with status 130.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from pathlib import Path

from assistant.core.config import Config, config_to_toml, load_config
from assistant.core.errors import AssistantError, AudioError, ConfigError, InputError, os_error_line
from assistant.core.inputs import REPLACEMENT, has_words, repair_text, replaced_bytes
from assistant.core.malloc import limit_arenas
from assistant.frontends.parser import build_parser

log = logging.getLogger("assistant")

ASK_TIMING_KEYS = ("llm_first_token", "llm_total", "tts_first_audio", "total")
"""``timings_ms`` of ``ask --json``, in ms; a stage that did not run is None."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _never_fail_on_encoding()
    limit_arenas()  # before any engine starts a thread
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        # -v at once, so the config search's debug lines show too.
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        overrides = {}
        if args.models_dir:
            overrides["paths.models_dir"] = str(Path(args.models_dir).resolve())
        if getattr(args, "hub", None):
            overrides.update(_hub_overrides(args.hub))
        if getattr(args, "engine", None):
            overrides["asr.engine"] = args.engine
        config = load_config(args.config, overrides)
        if args.command is None:
            args = parser.parse_args([*argv, _default_command(config)])
        level = config.log.level.upper()
        if args.command not in ("run", "serve") and not args.profile:
            # One-shot commands print results; their INFO logs would only be noise.
            level = max(logging.getLevelName(level), logging.WARNING)
        logging.getLogger().setLevel(logging.DEBUG if args.verbose else level)
        return _dispatch(args, config)
    except AssistantError as exc:
        print(f"assistant: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:
        # Unexpected file-system trouble (permissions, a full disk): still one line.
        if isinstance(exc, BrokenPipeError):  # stdout closed early (piped into head)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        print(f"assistant: {os_error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130


def _one_line(message: str) -> str:
    """``message`` with control characters escaped: a newline in a path must not split it."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def _never_fail_on_encoding() -> None:
    """No byte typed and no character printed ends the program: stdin keeps
    bytes that are not UTF-8 as surrogates (`repair_text` mends them where a
    line is used), and stdout prints what its encoding cannot show as ``?``."""
    for stream, errors in ((sys.stdin, "surrogateescape"), (sys.stdout, "replace")):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors=errors)


def _question(text: str) -> str:
    """The question from the command line as valid text; `InputError` if it
    holds nothing to answer. Bytes that are not UTF-8 become U+FFFD, with a
    warning, rather than crash the language model's tokenizer."""
    question = repair_text(text).strip()
    if not has_words(question):
        if REPLACEMENT in question:
            raise InputError(
                "the question has no readable text, only bytes that are not UTF-8; "
                "type it in a UTF-8 terminal"
            )
        raise InputError('the question is empty; ask something, e.g. `assistant ask "hello"`')
    if replaced_bytes(text, question):
        log.warning("the question has bytes that are not UTF-8; they are read as %s", REPLACEMENT)
    return question


def _hub_overrides(hub: str) -> dict[str, str]:
    """``--hub``: every remote engine pointed at one ``assistant serve``."""
    from assistant.compose.remote import hub_overrides
    from assistant.core.uris import parse_address

    try:
        parse_address(hub, ("tcp",))
    except ValueError as exc:
        raise InputError(f"--hub {hub!r} is not usable: {exc}") from None
    return hub_overrides(hub)


def _dispatch(args: argparse.Namespace, config: Config) -> int:
    command = args.command
    if args.profile:
        logging.getLogger("assistant.profile").setLevel(logging.INFO)
    if command == "config":
        sys.stdout.write(config_to_toml(config))
        return 0
    if command == "devices":
        from assistant.stages.audio.devices import list_devices

        print(list_devices())
        return 0
    if command == "models":
        return _models(args, config)
    if command == "doctor":
        from assistant.frontends.doctor_echo import doctor

        return doctor(config, echo=args.echo, as_json=args.json)
    if command == "console":
        return _console(args, config)
    if command == "ask":
        return _ask(args, config)
    if command == "listen" and args.wake:
        from assistant.frontends.wake import listen_wake

        result = listen_wake(
            config,
            args.wav,
            args.out,
            realtime=args.realtime,
            profile=args.profile,
            reference=args.reference,
        )
        _emit(result, args.json, text_key="reply")
        return 0
    if command == "wake":
        from assistant.frontends.wake import detect_file, format_detections

        found = detect_file(config, args.wav, reference=args.reference)
        print(json.dumps({"detections": found}) if args.json else format_detections(found))
        return 0
    if command == "echo":
        from assistant.frontends.echo import format_result, run_echo

        result = run_echo(args.mic, args.reference, args.out)
        print(json.dumps(result) if args.json else format_result(result))
        return 0
    if command == "listen":
        from assistant.frontends.listen import listen_once

        result = listen_once(
            config,
            args.wav,
            args.out,
            profile=args.profile,
            realtime=args.realtime,
            reference=args.reference,
        )
        _emit(result, args.json, text_key="reply")
        return 0
    if command == "bench" and args.quality:
        from assistant.bench.quality import run_quality

        return run_quality(config, as_json=args.json, llm_ids=args.llm)
    if command == "bench" and args.hub_clients is not None:
        from assistant.bench.soak_hub import check_soak, run_hub_soak

        if args.soak is None:
            raise ConfigError("bench --hub-clients goes with --soak N (turns in all)")
        check_soak(args.soak, args.hub_clients)

        return run_hub_soak(config, turns=args.soak, clients=args.hub_clients, as_json=args.json)
    if command == "bench" and args.soak is not None:
        from assistant.bench.soak import run_soak

        return run_soak(config, turns=args.soak, as_json=args.json, rows_path=args.soak_out)
    if command == "bench":
        from assistant.bench.run import run_bench

        return run_bench(
            config,
            turns=args.turns,
            as_json=args.json,
            threads_sweep=args.threads_sweep,
            questions=args.questions,
            memory=args.memory,
            paced=args.paced,
        )
    if command == "serve":
        from assistant.frontends.serve import serve

        return serve(config, uri=args.uri)
    if command == "run":
        from assistant.frontends.run import run

        return run(config, keyboard=args.keyboard, profile=args.profile)
    raise AssertionError(command)  # pragma: no cover


def _default_command(config: Config) -> str:
    """With no command: the appliance when there is a microphone and a speech
    recognizer to use it with, else the console."""
    from assistant.stages.audio.devices import have_input_device

    if not have_input_device():
        return "console"
    asr = config.asr
    if asr.engine == "wyoming":
        return "run"  # the recognizer is on the hub
    model = asr.model
    if not (config.models_dir / model).is_dir():
        print(
            f"assistant: speech model {model} is not installed, so starting the text "
            f"console; `assistant models fetch {model}` enables voice turns",
            file=sys.stderr,
        )
        return "console"
    return "run"


def _console(args: argparse.Namespace, config: Config) -> int:
    from assistant.compose import build_conversation, build_engines, build_sink, build_skills
    from assistant.frontends.console import Console

    speak = config.tts.speak if args.speak is None else args.speak
    sink = None
    if speak:
        try:
            sink = build_sink(config, wav_dir=args.wav_dir)
        except AudioError as exc:
            if args.wav_dir is not None:
                raise  # the user asked for WAV files there: refuse, before loading models
            # ./replies with no sound card, in a read-only folder: still a text console.
            print(f"assistant: {exc}; replies are text only", file=sys.stderr)
            speak = False
    # Warm: the system prompt goes into the KV cache now, so the first turn is quick.
    with build_engines(config, stt=False, tts=speak) as engines:
        if sink is not None:
            try:
                sink.open(engines.tts.sample_rate_hz)
            except AudioError as exc:
                print(f"assistant: {exc}; replies are text only", file=sys.stderr)
                sink = None
        conversation = build_conversation(config)
        skills = build_skills(config, engines.llm, engines.tts, conversation)
        console = Console(
            engines.llm, conversation, tts=engines.tts, sink=sink, speak=speak, skills=skills
        )
        try:
            return console.run()
        finally:
            if sink is not None:
                sink.close()
            skills.close()


def _ask(args: argparse.Namespace, config: Config) -> int:
    from assistant.compose import build_conversation, build_engines, build_sink, build_skills
    from assistant.frontends.console import ask
    from assistant.stages.audio.devices import have_output_device

    question = _question(args.question)
    speak = args.wav is not None or (config.tts.speak and have_output_device())
    stream = None if args.json else _stream_to_stdout
    # Built before the models load: a --wav that cannot be written fails now.
    sink = build_sink(config, wav=args.wav) if speak else None
    # Not warmed: one question costs the same either way, and the timings
    # then include reading the system prompt, as a cold `ask` does.
    with build_engines(config, stt=False, tts=speak, warm=False) as engines:
        if sink is not None:
            sink.open(engines.tts.sample_rate_hz)
        conversation = build_conversation(config)
        skills = build_skills(config, engines.llm, engines.tts, conversation)
        try:
            result = ask(
                engines.llm,
                conversation,
                question,
                tts=engines.tts,
                sink=sink,
                on_token=stream,
                skills=skills,
            )
        finally:
            if sink is not None:
                sink.close()
            skills.close()
    timings = result.timings_ms
    payload = {
        "question": question,
        "reply": result.generated,
        "timings_ms": {k: timings.get(k) for k in ASK_TIMING_KEYS},
        "tokens_per_s": round(result.tokens_per_s, 2),
        "path": result.path,
    }
    if args.wav is not None:
        payload["wav"] = str(args.wav)
    if args.json:
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print()
    if args.profile:
        logging.getLogger("assistant.profile").info("ask %s", json.dumps(payload["timings_ms"]))
    return 0


def _stream_to_stdout(token: str) -> None:
    sys.stdout.write(token)
    sys.stdout.flush()


def _emit(result: dict, as_json: bool, text_key: str) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(result[text_key])


def _models(args: argparse.Namespace, config: Config) -> int:
    from assistant.catalog import manage as models

    directory = config.models_dir
    if args.models_command == "list":
        print(f"models directory: {directory}")
        print("fits: yes = fits in MemAvailable, tight = only in MemTotal; * = unverified hashes")
        print(
            f"{'id':<28} {'kind':<4} {'lang':<12} {'size':>9} {'memory':>7} {'fits':<5} "
            f"{'suits':<16} status"
        )
        for row in models.list_models(directory):
            approx = "" if row["size_known"] else "~"
            size_mb = f"{approx}{row['size_bytes'] / 1e6:.0f} MB"
            mark = "" if row["verified"] else " *"
            print(
                f"{row['id']:<28} {row['kind']:<4} {row['language']:<12} {size_mb:>9} "
                f"{row['memory_mb']:>4} MB {row['fits']:<5} {row['suits']:<16} "
                f"{row['status']}{mark}"
            )
        return 0
    if args.models_command == "fetch":
        ids = list(args.ids)
        if args.model_set or not ids:
            ids = [args.model_set or "default", *ids]
        # A best-effort model that failed was reported as a warning: still success.
        models.fetch_models(
            ids, directory, echo=lambda line: print(line, file=sys.stderr), progress=sys.stderr
        )
        return 0
    if args.models_command == "recommend":
        from assistant.catalog.recommend import format_recommendation, read_machine, recommend

        rec = recommend(read_machine(), args.language or config.language)
        if args.json:
            print(json.dumps(rec.as_json(), ensure_ascii=False))
        else:
            print("\n".join(format_recommendation(rec)))
        return 0
    if args.models_command == "use":
        path = _user_config_path(args, config)
        changes = models.use_model(args.id, directory, path)
        for (section, key), value in changes.items():
            print(f"{path}: {section}.{key} = {value!r}")
        return 0
    results = models.verify_models(directory, args.ids or None)
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        print(f"{mark} {result.entry}: {result.file} {result.message}".rstrip())
    if not results:
        print(f"no models found in {directory}; run `assistant models fetch`")
    return 0 if results and all(r.ok for r in results) else 1


def _user_config_path(args: argparse.Namespace, config: Config) -> Path:
    """The file `load_config` read, else where it looks first (~/.config/...)."""
    from assistant.core.config import config_search_path

    if config.source != "built-in defaults":
        return Path(config.source)
    return config_search_path(args.config)[0]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
