"""``python -m rfm_studio`` runs the command line (the editor opens when no command is given)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
