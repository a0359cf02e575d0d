"""The hub: ``assistant serve``, the appliance's engines as a Wyoming server.

Satellites and Home Assistant reach the hub's recognizer (``asr``), voice
(``tts``), skills and language model (``handle``) and intent matcher
(``intent``) over the Wyoming protocol, on the LAN addresses the config
allows. The front end loads the engines (through the composition root) and
hands them over as `HubServices`; `HubServer` serves them.

How LLM work is queued: there is one llama.cpp context, so replies take
turns on it (`stages.llm.turnstile`): up to `lanes.LLM_TURNS` are in
progress, and one that others wait behind steps aside at a sentence, its KV
state saved and put back. A new reply goes before one coming back for a
later sentence, and a reply's first piece before others' later sentences
on the TTS lane (`openings`), so every client hears its answer start soon.
Each conversation keeps its own memory (`conversations`) and, while it
fits, its KV context on a shelf (`kvcache.ContextShelf`), so a next turn
need not read its history again.
llama-server with ``--parallel N`` would differ: N slots, each with its own
KV cache, decoded together in one batch; turns overlap and each keeps its
cache, but each slot gets about 1/N of the generation speed and the context
memory is N times larger, which a 4 GB Pi cannot spare.
"""

from assistant.hub.services import HubServices, Session

__all__ = ["HubServices", "Session"]
