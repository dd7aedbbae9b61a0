"""Type stub for fastpath.tcp.newreno: C-level only (cimported by the other TCP modules); it has no
Python API."""
