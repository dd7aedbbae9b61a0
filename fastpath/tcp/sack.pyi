"""Type stub for fastpath.tcp.sack: C-level only (cimported by the other TCP modules); it has no
Python API."""
