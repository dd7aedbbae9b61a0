"""fastpath: a packet-processing engine and user-space TCP/IP stack with a Cython core.

The compiled core lives in submodules (``fastpath.wire``, ``fastpath.capture``, ...). Importing
``fastpath`` itself is cheap and never needs root, bcc or Linux.
"""
__version__ = "0.1.0"

from fastpath.errors import FastpathError  # noqa: F401  (re-export)
