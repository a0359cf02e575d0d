"""The hub: ``assistant serve``, the appliance's engines as a Wyoming server.

Satellites and Home Assistant reach the hub's recognizer (``asr``), voice
(``tts``), skills and language model (``handle``) and intent matcher
(``intent``) over the Wyoming protocol, on the LAN addresses the config
allows. The front end loads the engines (through the composition root) and
hands them over as `HubServices`; `HubServer` serves them.

How LLM work is queued: there is one llama.cpp context, so every client's
``handle`` turn waits its turn on the LLM lane (`lanes.EngineLane`, FIFO)
and runs alone with all the cores. Each conversation keeps its own memory
(`conversations`), so consecutive turns from different clients share only
the system prompt in the KV cache and re-evaluate the rest of their history.
llama-server with ``--parallel N`` would differ: N slots, each with its own
KV cache, decoded together in one batch; turns overlap and each keeps its
cache, but each slot gets about 1/N of the generation speed and the context
memory is N times larger, which a 4 GB Pi cannot spare.
"""

from assistant.hub.services import HubServices, Session

__all__ = ["HubServices", "Session"]
