"""The wake-word stage: `base` holds the `WakeDetector` contract.

Backend: `micro` (microWakeWord, the ``.[wake]`` extra); only the
composition root picks it.
"""
