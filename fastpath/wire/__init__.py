"""Wire formats: zero-copy views, validated parse/emit, checksums, batch parsing."""
