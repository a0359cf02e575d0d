"""Skills: intents, timers and declared GPIO tools, before or instead of the LLM.

`Skills` is the pipeline's `Shortcuts`; the composition root builds it.
"""

from assistant.skills.handler import Skills

__all__ = ["Skills"]
