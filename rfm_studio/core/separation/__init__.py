"""Source separation engines used by edits (dictionary-guided removal)."""
