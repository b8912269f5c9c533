"""`datahem dev`: the whole platform on one machine (see README.md here)."""
