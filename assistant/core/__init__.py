"""What every layer shares: typed config and language profiles, errors, events,
and the chat message. Imports nothing else of the package."""
