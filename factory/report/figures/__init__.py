"""One module per report figure; each ``render(...)`` returns (PNG bytes, characters no font could draw)."""
