"""Use cases: the only layer that commits. Plain values in, rows or typed errors out."""
