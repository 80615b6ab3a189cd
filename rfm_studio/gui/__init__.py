"""The desktop editor: Qt widgets wired to the headless core (no model code here).

Nothing in this package imports torch at module level; the model loads in the
worker thread after the window shows.
"""
