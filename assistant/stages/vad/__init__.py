"""Voice activity: `base` holds the `Endpointer` contract that the energy
endpointer (`assistant.stages.asr.endpoint`) also fulfils.

Backend: `silero` (Silero VAD, the ``.[wake]`` extra); only the composition
root picks it.
"""
