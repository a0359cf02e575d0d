"""The turns of ``assistant bench --soak``: a fixed pattern of ten kinds,
each kind cycling its own list of texts (see `bench.soak`)."""

from __future__ import annotations

PATTERN = ("llm", "skill", "llm", "device", "llm", "skill", "llm", "llm", "skill", "voice")
"""The kinds of turns 1-10, 11-20, ...: five LLM questions, three skills,
one device command and one paced voice turn in every ten."""

LLM_QUESTIONS = (
    "What is the capital of France?",
    "How many legs does a spider have?",
    "Explain how a refrigerator keeps food cold, step by step, from the compressor to "
    "the evaporator, and why the back of it feels warm.",
    "Who wrote Romeo and Juliet?",
    "Tell me a short story about a lighthouse keeper who finds a message in a bottle.",
    "Why is the sky blue?",
    "What should I pack for a weekend hiking trip in the mountains in autumn, if it might "
    "rain and the nights are cold? Give me a list with the most important things first.",
    "How do bees make honey?",
    "What is the difference between weather and climate?",
    "Can you suggest three names for a small grey cat?",
    "I have eggs, spinach, some cheese and half an onion. What could I cook for dinner "
    "tonight that takes less than twenty minutes, and how do I make it?",
    "What is photosynthesis?",
    "How far away is the Moon?",
    "Describe the water cycle in simple words for a child.",
    "What are the planets of the solar system, in order from the Sun?",
    "Give me some tips for sleeping better.",
)
SKILL_COMMANDS = (
    "What time is it?",
    "Set a timer for 3 seconds.",
    "Louder.",
    "Repeat that.",
    "What is the date today?",
    "Quieter.",
    "List my timers.",
    "Set the volume to 80 percent.",
    "Set a timer for 2 minutes.",
    "Cancel the timer.",
)
DEVICE_COMMANDS = (
    "Turn on the kitchen light.",
    "Switch off the fan.",
    "Turn off the heater.",
)
VOICE_QUESTIONS = (
    "What is the capital of Italy?",
    "How does a rainbow form?",
    "What time is it?",
    "Tell me something interesting about octopuses.",
)
"""Spoken by the configured voice before the first turn."""


def plan(turns: int) -> list[tuple[str, str]]:
    """(kind, text) of turns 1..``turns``: `PATTERN`, each kind cycling its own list."""
    lists = {
        "llm": LLM_QUESTIONS,
        "skill": SKILL_COMMANDS,
        "device": DEVICE_COMMANDS,
        "voice": VOICE_QUESTIONS,
    }
    seen = dict.fromkeys(lists, 0)
    out = []
    for i in range(turns):
        kind = PATTERN[i % len(PATTERN)]
        out.append((kind, lists[kind][seen[kind] % len(lists[kind])]))
        seen[kind] += 1
    return out
