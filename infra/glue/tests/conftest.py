"""Makes ``infra/glue`` importable (the Glue job ships its modules flat, side by side)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
