"""Chat prompts for the llama.cpp backend: a GGUF's chat template applied to
`Message`s, and a conversation trimmed to fit the context window.

No model and no threads: `ChatTemplate` renders with jinja2 through
llama-cpp-python's `Jinja2ChatFormatter` (imported when a template is made),
and `fit_context` takes the tokenizer as a function.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Sequence

from assistant.core.errors import LanguageModelError
from assistant.core.messages import Message

log = logging.getLogger(__name__)

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""Used only when a GGUF carries no chat template; most small instruct
models are ChatML-trained."""


class ChatTemplate:
    """A model's Jinja2 chat template, with its BOS and EOS token texts.

    `spans` keeps the template's own text apart from the messages' text, so
    the tokenizer can give control tokens (``<|im_start|>``...) to the
    template alone: a message that contains such a marker as text must stay
    text, whoever wrote it (the user, the transcript, memory, a tool).
    """

    def __init__(self, template: str, bos: str, eos: str, model_name: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._reply = Jinja2ChatFormatter(template, eos, bos, add_generation_prompt=True)
        self._prefix = Jinja2ChatFormatter(template, eos, bos, add_generation_prompt=False)
        self._model_name = model_name
        # Per process, so nobody can write it into a message in advance.
        self._nonce = secrets.token_hex(8)

    def format(self, messages: Sequence[Message], *, reply: bool = True) -> str:
        """The prompt text for ``messages``; with ``reply`` it ends by opening
        the assistant's turn. `LanguageModelError` if the template refuses them."""
        return "".join(text for text, _ in self.spans(messages, reply=reply))

    def spans(
        self, messages: Sequence[Message], *, reply: bool = True
    ) -> list[tuple[str, int | None]]:
        """The prompt as (text, message index) pieces in order: index None for
        the template's own text, else the index of the message whose content
        the piece is. Empty pieces are left out.

        The template is rendered once with a unique marker in place of each
        content, then the markers are swapped back, so the result is exactly
        what rendering the real contents gives (for templates that only
        insert a content, as chat templates do). `LanguageModelError` if the
        template refuses the messages or changes a content instead of
        inserting it (then the pieces cannot be told apart).
        """
        nonce = self._nonce
        while any(nonce in m.content for m in messages):
            nonce = secrets.token_hex(8)
        marker = re.compile(f"\x02{nonce}:(\\d+)\x03")
        # An empty content stays empty: templates may test for it.
        dicts = [
            {"role": m.role, "content": f"\x02{nonce}:{i}\x03" if m.content else ""}
            for i, m in enumerate(messages)
        ]
        formatter = self._reply if reply else self._prefix
        try:
            rendered = formatter(messages=dicts).prompt
        except Exception as exc:  # jinja2 errors, or the template's raise_exception
            raise LanguageModelError(
                f"chat template of {self._model_name} rejected the conversation ({exc})"
            ) from None
        pieces: list[tuple[str, int | None]] = []
        at = 0
        for match in marker.finditer(rendered):
            pieces.append((rendered[at : match.start()], None))
            index = int(match[1])
            if index < len(messages):
                pieces.append((messages[index].content, index))
            at = match.end()
        pieces.append((rendered[at:], None))
        # Any part of a marker left over means the template cut or changed one.
        if any("\x02" in text or "\x03" in text for text, index in pieces if index is None):
            raise LanguageModelError(
                f"chat template of {self._model_name} rewrites message text, so the "
                "messages cannot be kept apart from its control tokens; use another model"
            )
        return [(text, index) for text, index in pieces if text]


def fit_context(
    messages: Sequence[Message],
    tokenize: Callable[[Sequence[Message]], list[int]],
    n_ctx: int,
    max_tokens: int,
) -> tuple[list[int], int]:
    """Prompt tokens and the reply budget (at most ``max_tokens``) that fit
    ``n_ctx``, dropping the oldest exchanges first; never the system prompt
    or the last message. `LanguageModelError` when even that does not fit."""
    messages = list(messages)
    tokens = tokenize(messages)
    while len(tokens) + max_tokens > n_ctx:
        start = 1 if messages and messages[0].role == "system" else 0
        if len(messages) - start <= 1:
            break
        # Drop a whole exchange: the oldest message and any replies to it.
        end = start + 1
        while end < len(messages) - 1 and messages[end].role != "user":
            end += 1
        del messages[start:end]
        tokens = tokenize(messages)
    room = n_ctx - len(tokens)
    if room < 1:
        raise LanguageModelError(_too_long(messages, tokens, tokenize, n_ctx))
    if room < max_tokens:
        log.warning("only %d of llm.max_tokens = %d fit the context", room, max_tokens)
    return tokens, min(room, max_tokens)


def _too_long(
    messages: list[Message],
    tokens: list[int],
    tokenize: Callable[[Sequence[Message]], list[int]],
    n_ctx: int,
) -> str:
    """What is too long when even the system prompt and the last message do
    not fit: the last message (usually the question) or the system prompt."""
    before = len(tokenize(messages[:-1])) if len(messages) > 1 else 0
    last = messages[-1] if messages else Message("user", "")
    allowed = n_ctx - 1 - before
    if allowed < 1 or last.role == "system":
        return (
            f"llm.system_prompt takes {len(tokens) if last.role == 'system' else before} "
            f"tokens of llm.n_ctx = {n_ctx}; shorten llm.system_prompt or raise llm.n_ctx"
        )
    what = "the question" if last.role == "user" else f"the last {last.role} message"
    return (
        f"{what} is {len(tokens) - before} tokens, but only {allowed} fit llm.n_ctx = "
        f"{n_ctx} beside the system prompt; ask a shorter question or raise llm.n_ctx"
    )
