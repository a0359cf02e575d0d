"""`LlamaLanguageModel`: the `LanguageModel` backend for GGUF models, on
llama-cpp-python, imported lazily so this module imports without it.

Threads: llama.cpp lets one thread at a time use a context, so every method
but `close` and tokenizing (the vocabulary only) holds one lock: a reply to
its end, but for stepping aside at a sentence while others wait (`turnstile`).
A cancel is checked between tokens and, through llama.cpp's abort callback
(`abort`), during a prompt evaluation too. Prompts: `prompt`; the KV cache: `kvcache`.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

from assistant.core.config import LlmConfig
from assistant.core.errors import LanguageModelError, ModelError
from assistant.core.messages import Message
from assistant.stages.llm import kvcache
from assistant.stages.llm.abort import AbortHook
from assistant.stages.llm.base import GenerationStats
from assistant.stages.llm.gguf import FIX_HINT, check_gguf, route_llama_logs
from assistant.stages.llm.prompt import CHATML_TEMPLATE, ChatTemplate, fit_context
from assistant.stages.llm.threads import batch_threads, default_threads
from assistant.stages.llm.turnstile import Turn, Turnstile

log = logging.getLogger(__name__)

# Sampling settings not worth a config key. A mild repeat penalty keeps a
# 135M-parameter model from looping on one phrase; the rest are llama.cpp's
# defaults.
TOP_K = 40
TOP_P = 0.95
MIN_P = 0.05
REPEAT_PENALTY = 1.1


class LlamaLanguageModel:
    """`LanguageModel` backed by a llama-cpp-python `Llama` and a GGUF file.

    Prompts are formatted with the GGUF's own chat template. Consecutive
    turns share a prompt prefix (system prompt and history), which llama.cpp
    keeps in its KV cache, so only the new tokens are evaluated.
    """

    takes_turns = True
    """Replies from several threads take turns at sentences (`Turnstile`)."""

    def __init__(self, config: LlmConfig, model_path: Path) -> None:
        """Load the model (blocking, seconds). Raise `ModelError` if the file
        is missing or not a loadable GGUF.

        The weights are read into memory, so the file may be replaced,
        truncated or deleted afterwards without touching this model; an
        ``mmap = True`` attribute on ``config`` maps the file instead (less
        resident memory, but the file must then stay as it is)."""
        check_gguf(model_path)
        try:
            import llama_cpp
        except ImportError as exc:
            raise LanguageModelError(
                f"llama-cpp-python is not installed ({exc}); run `./setup.sh`"
            ) from None
        route_llama_logs(llama_cpp)
        self.config = config
        self.path = model_path
        self.name = model_path.name
        self.n_threads = config.n_threads or default_threads()
        self.last_stats = GenerationStats()
        self._llama_cpp = llama_cpp
        # llama.cpp lets one thread at a time use the model; a prefill (on a
        # worker of its own) and a reply take turns through this lock.
        self._lock = threading.RLock()
        # Replies queue here first: one waiting makes the running reply step
        # aside at its next sentence (`turnstile`); once replies have met
        # there, each leaves its context on the shelf for its next turn.
        self._turns = Turnstile()
        self._shelf = kvcache.ContextShelf(kvcache.SHELF_SIZE)
        # Read into memory unless llm.mmap: a mapped file that is truncated
        # under the running process kills it with SIGBUS, and one overwritten
        # in place changes the weights it is using.
        self.mmap = config.mmap
        started = time.monotonic()
        try:
            self._handle: Any = llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=config.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=batch_threads(self.n_threads),
                use_mmap=self.mmap,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(
                f"language model {model_path} failed to load ({exc}); delete it and {FIX_HINT}"
            ) from None
        if config.seed >= 0:
            # After construction: the constructor treats seed 0 as "random".
            self._llama.set_seed(config.seed)
        # So a cancel also stops a long prompt evaluation (a big model, a
        # long history), not just sampling.
        self._abort = AbortHook(llama_cpp, self._llama.ctx)
        self._vocab = llama_cpp.llama_model_get_vocab(self._llama.model)
        template = self._llama.metadata.get("tokenizer.chat_template")
        if not template:
            log.warning("%s has no chat template; using ChatML", self.name)
            template = CHATML_TEMPLATE
        self._template = ChatTemplate(
            template,
            bos=self._token_text(self._llama.token_bos()),
            eos=self._token_text(self._llama.token_eos()),
            model_name=self.name,
        )
        log.info(
            "loaded %s in %.1f s (n_ctx %d, %d threads, %s)",
            self.name,
            time.monotonic() - started,
            config.n_ctx,
            self.n_threads,
            "mapped" if self.mmap else "read into memory",
        )

    @classmethod
    def from_config(cls, config: LlmConfig, models_dir: Path) -> LlamaLanguageModel:
        """Load ``config.model`` from ``models_dir`` (or its absolute path)."""
        return cls(config, models_dir / Path(config.model).expanduser())

    @property
    def _llama(self) -> Any:
        if self._handle is None:
            raise LanguageModelError(f"language model {self.name} is closed")
        return self._handle

    def __enter__(self) -> LlamaLanguageModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _token_text(self, token: int) -> str:
        text = self._llama.detokenize([token], special=True) if token >= 0 else b""
        return text.decode("utf-8", "replace")

    def format_prompt(self, messages: Sequence[Message], *, reply: bool = True) -> str:
        """The prompt text the chat template makes of ``messages``; with
        ``reply`` it ends by opening the assistant's turn."""
        return self._template.format(messages, reply=reply)

    def tokenize(self, messages: Sequence[Message], *, reply: bool = True) -> list[int]:
        """Prompt tokens for ``messages``: `token_spans` joined. The template
        writes the special tokens itself, so no BOS is added."""
        return [token for tokens, _ in self.token_spans(messages, reply=reply) for token in tokens]

    def token_spans(
        self, messages: Sequence[Message], *, reply: bool = True
    ) -> list[tuple[list[int], int | None]]:
        """The prompt's tokens in pieces, as `ChatTemplate.spans` cuts it:
        (tokens, None) for the template's own text, (tokens, i) for the
        content of ``messages[i]``.

        Only the template's text may become control tokens (``<|im_start|>``,
        ``<|endoftext|>``...). Every content (the system prompt, the user's
        words, memory, tool results) is tokenized as plain text, so a marker
        typed into it stays text and cannot open a role or end the turn. Each
        piece is tokenized alone, so a history tokenizes the same way turn
        after turn and its KV cache is reused.
        """
        # No lock: it reads only the vocabulary; a hub's next reply sizes here.
        tokenize = self._llama.tokenize
        return [
            (tokenize(text.encode("utf-8"), add_bos=False, special=index is None), index)
            for text, index in self._template.spans(messages, reply=reply)
        ]

    def prefill(self, messages: Sequence[Message], cancel: threading.Event | None = None) -> int:
        """See `LanguageModel.prefill`: evaluate the prompt ``messages`` would
        make, up to the end of the last message's content, into the KV cache;
        the template's text after it (the end of the turn and the
        assistant's header) waits for the final transcript.

        Returns the tokens newly evaluated: 0 when they were cached already
        or the prompt would not fit the context with a full reply (then the
        real prompt drops history, and a prefill would only be evicted).
        Blocks the calling thread, at most about one `kvcache.PREFILL_CHUNK`
        after ``cancel`` is set. Raises `LanguageModelError` when the model
        fails."""
        spans = self.token_spans(messages, reply=False)
        while spans and spans[-1][1] is None:
            spans.pop()
        tokens = [token for piece, _ in spans for token in piece]
        if not tokens or len(self.tokenize(messages)) + self.config.max_tokens > self.config.n_ctx:
            return 0
        with self._lock, self._abort.watching(cancel):
            try:
                return kvcache.prefill(self._llama, tokens, cancel)
            except RuntimeError as exc:
                raise LanguageModelError(f"{self.name} failed to prefill ({exc})") from exc

    def fits(self, messages: Sequence[Message]) -> bool:
        """See `LanguageModel.fits`."""
        return len(self.tokenize(messages)) + self.config.max_tokens <= self.config.n_ctx

    def reset(self) -> None:
        """Forget the KV cache, so the next prompt is read cold, as after loading."""
        with self._lock:
            self._llama.reset()
            self._shelf.saved.clear()

    def warm_up(self) -> None:
        """Evaluate the system prompt into the KV cache (blocking, LLM worker)."""
        system = [Message("system", self.config.system_prompt)]
        tokens = self.tokenize(system, reply=False)
        started = time.monotonic()
        with self._lock:
            self._llama.reset()
            try:
                self._llama.eval(tokens)
            except RuntimeError as exc:
                raise LanguageModelError(
                    f"{self.name} failed to evaluate the prompt ({exc})"
                ) from exc
        log.info("warmed up %d prompt tokens in %.2f s", len(tokens), time.monotonic() - started)

    def generate(
        self, messages: Sequence[Message], cancel: threading.Event | None = None
    ) -> Generator[str, None, None]:
        """See `LanguageModel.generate`. `last_stats` is set when it ends."""
        started = time.monotonic()
        with self._turn(cancel, started) as turn:
            if turn is None:
                return
            tokens, budget = fit_context(
                messages, self.tokenize, self.config.n_ctx, self.config.max_tokens
            )
            yield from self._sample(
                tokens,
                budget,
                cancel,
                started,
                turn=turn,
                top_k=TOP_K,
                top_p=TOP_P,
                min_p=MIN_P,
                temp=self.config.temperature,
                repeat_penalty=REPEAT_PENALTY,
            )

    def generate_with_grammar(
        self,
        messages: Sequence[Message],
        gbnf: str,
        cancel: threading.Event | None = None,
        *,
        max_tokens: int = 64,
    ) -> Generator[str, None, None]:
        """See `LanguageModel.generate_with_grammar`: a greedy reply that
        ``gbnf`` (llama.cpp's GBNF) allows, for tool calls. Stops at the end
        token (the only one allowed once the grammar is complete), after
        ``max_tokens``, once ``cancel`` is set, or when the caller closes the
        iterator; `last_stats` is set when it ends. The chat's KV cache is
        restored afterwards. Raises `LanguageModelError` for a grammar
        llama.cpp rejects or a prompt that does not fit."""
        started = time.monotonic()
        try:
            grammar = self._llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise LanguageModelError(f"llama.cpp rejected the tool grammar ({exc})") from None
        tokens = self.tokenize(messages)
        if len(tokens) + max_tokens > self.config.n_ctx:
            raise LanguageModelError(
                f"tool prompt of {len(tokens)} tokens does not fit llm.n_ctx = "
                f"{self.config.n_ctx}; raise llm.n_ctx or declare fewer tools"
            )
        with self._turn(cancel, started) as turn:
            if turn is None:
                return
            with self._lock, kvcache.context_kept(self._llama, self._llama_cpp):
                yield from self._sample(
                    tokens, max_tokens, cancel, started, top_k=1, temp=0.0, grammar=grammar
                )

    @contextlib.contextmanager
    def _turn(self, cancel: threading.Event | None, started: float) -> Iterator[Turn | None]:
        """The reply's turn at the model, or None when cancelled first."""
        with self._turns.turn(cancel) as turn:
            if turn is None:
                self.last_stats = GenerationStats(
                    total_s=time.monotonic() - started, stop="cancelled"
                )
            yield turn

    def _sample(
        self,
        tokens: list[int],
        budget: int,
        cancel: threading.Event | None,
        started: float,
        *,
        turn: Turn | None = None,
        **sampling: Any,
    ) -> Generator[str, None, None]:
        """Evaluate ``tokens`` and yield the text of up to ``budget`` sampled
        tokens; `last_stats` is set however it ends. With a ``turn`` (the
        caller entered the turnstile and holds the lock once), the reply
        steps aside at a sentence boundary while others wait."""
        # The lock is held until the generator ends, but while it steps aside.
        with self._lock, self._abort.watching(cancel):
            self._shelf.reuse(self._llama, self._llama_cpp, tokens)
            cached = kvcache.cached_prefix(self._llama, tokens)
            first_token_s = 0.0
            generated = 0
            stop = "error"
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            stream = self._llama.generate(tokens, **sampling)
            try:
                while True:
                    # Checked before asking for the next token, so a cancel set
                    # while the caller handled the last piece costs no more work.
                    if cancel is not None and cancel.is_set():
                        stop = "cancelled"
                        break
                    if generated >= budget:
                        stop = "max_tokens"
                        break
                    try:
                        token = next(stream)
                    except StopIteration:
                        stop = "end"
                        break
                    except Exception as exc:
                        if cancel is not None and cancel.is_set():
                            stop = "cancelled"  # llama.cpp aborted the decode for us
                            break
                        raise LanguageModelError(
                            f"{self.name} failed while generating ({exc})"
                        ) from exc
                    generated += 1
                    if generated == 1:
                        first_token_s = time.monotonic() - started
                        self._abort.pause()  # the prompt is read
                    if self._llama_cpp.llama_vocab_is_eog(self._vocab, token):
                        stop = "end"
                        break
                    piece = decoder.decode(self._llama.detokenize([token]))
                    if piece:
                        try:
                            yield piece
                        except GeneratorExit:
                            stop = "closed"
                            raise
                    due = turn is not None and turn.due(piece, *self._turns.queued)
                    if due and not self._step_aside(turn, cancel):
                        stop = "cancelled"  # while it waited for its turn
                        break
                tail = decoder.decode(b"", final=True)
                if tail:
                    yield tail
            finally:
                stream.close()
                if turn is not None and (self._turns.waiting or self._shelf.saved):
                    self._shelf.shelve(self._llama, self._llama_cpp)  # its client comes back
                self.last_stats = GenerationStats(
                    prompt_tokens=len(tokens),
                    cached_tokens=cached,
                    generated_tokens=generated,
                    first_token_s=first_token_s,
                    total_s=time.monotonic() - started,
                    stop=stop,
                )
                log.debug("generation: %s", self.last_stats)

    def _step_aside(self, turn: Turn, cancel: threading.Event | None) -> bool:
        """`kvcache.step_aside`; the others' decodes must not see our cancel."""
        self._abort.cancel = None
        try:
            return kvcache.step_aside(
                self._llama, self._llama_cpp, self._lock, self._turns, turn, cancel, self._shelf
            )
        except RuntimeError as exc:
            raise LanguageModelError(f"{self.name} lost its context ({exc})") from None
        finally:
            self._abort.cancel = cancel

    def close(self) -> None:
        """Free the model (owner's thread, after the LLM worker stopped); safe to call twice."""
        llama, self._handle = self._handle, None
        if llama is not None:
            llama.close()
