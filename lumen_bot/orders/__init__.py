"""Orders: the facts Lumen answers from, and where they come from."""
