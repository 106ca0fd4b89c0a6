"""The edit canvas: prompt, identity, parameters, live progress, masks and before/after views."""
