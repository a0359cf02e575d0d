"""Chat prompts for the llama.cpp backend: a GGUF's chat template applied to
`Message`s, and a conversation trimmed to fit the context window.

No model and no threads: `ChatTemplate` renders with jinja2 through
llama-cpp-python's `Jinja2ChatFormatter` (imported when a template is made),
and `fit_context` takes the tokenizer as a function.
"""

from __future__ import annotations

import logging
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
    """A model's Jinja2 chat template, with its BOS and EOS token texts."""

    def __init__(self, template: str, bos: str, eos: str, model_name: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._reply = Jinja2ChatFormatter(template, eos, bos, add_generation_prompt=True)
        self._prefix = Jinja2ChatFormatter(template, eos, bos, add_generation_prompt=False)
        self._model_name = model_name

    def format(self, messages: Sequence[Message], *, reply: bool = True) -> str:
        """The prompt text for ``messages``; with ``reply`` it ends by opening
        the assistant's turn. `LanguageModelError` if the template refuses them."""
        formatter = self._reply if reply else self._prefix
        dicts = [{"role": m.role, "content": m.content} for m in messages]
        try:
            return formatter(messages=dicts).prompt
        except Exception as exc:  # jinja2 errors, or the template's raise_exception
            raise LanguageModelError(
                f"chat template of {self._model_name} rejected the conversation ({exc})"
            ) from None


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
        raise LanguageModelError(
            f"prompt of {len(tokens)} tokens does not fit llm.n_ctx = {n_ctx}; "
            "raise llm.n_ctx or shorten llm.system_prompt"
        )
    if room < max_tokens:
        log.warning("only %d of llm.max_tokens = %d fit the context", room, max_tokens)
    return tokens, min(room, max_tokens)
