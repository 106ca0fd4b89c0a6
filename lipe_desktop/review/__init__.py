"""The morning review of queued edits' results, and versions grouped under their original."""
