"""Sections of the node page that some kinds of node get: evidence (claims, findings) and runs."""
