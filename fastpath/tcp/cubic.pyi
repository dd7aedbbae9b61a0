"""Type stub for fastpath.tcp.cubic: C-level only (cimported by the other TCP modules); it has no
Python API."""
