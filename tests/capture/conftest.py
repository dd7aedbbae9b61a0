"""Make the capture tests' helper modules (capfiles) importable under pytest's importlib mode."""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
