"""`assistant serve` against `wyoming-faster-whisper`, timed by the peers' own
client tool, `wyoming-bench`, on the real recordings in ``real_speech/``.

Starts both servers on loopback with the same Whisper base directory (int8,
2 threads for theirs; the hub's own settings for ours), writes the clips as
a `wyoming-bench` corpus (``<stem>.wav`` + ``<stem>.txt``), and runs
``wyoming-bench stt OURS THEIRS`` once, so both are measured in one run,
interleaved by the tool. Its report is printed as it comes.

`wyoming-bench` is not a dependency of the project: install it in a venv of
its own and pass its executable::

    python -m venv /tmp/wb && /tmp/wb/bin/pip install wyoming-bench
    .venv/bin/python benchmarks/wyoming_bench_stt.py --wyoming-bench /tmp/wb/bin/wyoming-bench
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.core.config import load_config  # noqa: E402
from tests.support.real_speech import real_clips  # noqa: E402
from tests.support.remote_servers import assistant_serve, whisper_server  # noqa: E402


def write_corpus(folder: Path) -> int:
    clips = real_clips()
    for clip in clips:
        shutil.copy(clip.path, folder / clip.path.name)
        (folder / clip.path.name).with_suffix(".txt").write_text(clip.text + "\n")
    return len(clips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wyoming-bench", required=True, help="the wyoming-bench executable")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", default="both", choices=["non_streaming", "streaming", "both"])
    args = parser.parse_args()
    models = load_config().models_dir
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        corpus = folder / "corpus"
        corpus.mkdir()
        print(f"corpus: {write_corpus(corpus)} real recordings", file=sys.stderr)
        hub_config = folder / "hub.toml"
        hub_config.write_text('[asr]\nengine = "whisper"\n')
        with (
            assistant_serve(hub_config) as hub,
            whisper_server(models) as whisper,
        ):
            ours = hub.uri.removeprefix("tcp://")
            theirs = whisper.uri.removeprefix("tcp://")
            print(f"ours (assistant serve): {ours}; theirs (wyoming-faster-whisper): {theirs}")
            bench = [args.wyoming_bench, "stt", ours, theirs, "--corpus", str(corpus)]
            bench += ["--mode", args.mode, "--rounds", str(args.rounds)]
            bench += ["--config", '{"language": "en"}']
            sys.exit(subprocess.run(bench, check=False).returncode)


if __name__ == "__main__":
    main()
