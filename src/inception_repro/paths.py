"""Where the project's configs live (the repository's configs/, or $INCEPTION_REPRO_CONFIGS)."""

import os
from pathlib import Path

CONFIG_DIR = Path(os.environ.get("INCEPTION_REPRO_CONFIGS", Path(__file__).resolve().parents[2] / "configs"))
