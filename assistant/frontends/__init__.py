"""The ways to use the assistant: the CLI, the text console, one-shot file turns,
the appliance command, and `doctor`. Each composes what it needs through
`assistant.compose`."""
