"""`python -m plate_edge` is the `plate-edge` command."""
import sys

from .cli import main

sys.exit(main())
