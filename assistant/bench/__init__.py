"""`assistant bench`: every stage against its bare engine, and the streaming turn
against a sequential one, measured side by side in one run."""
