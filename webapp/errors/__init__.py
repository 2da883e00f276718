"""Error pages, full and as fragments."""
