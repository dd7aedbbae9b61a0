import os
import sys

# The TCP tests share a vocabulary module that lives beside them.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
