"""``streamlit run app/main.py`` from a clone: the app itself ships in the package, in ``inspector/app/``."""

import runpy
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
runpy.run_path(str(_ROOT / "inspector" / "app" / "main.py"), run_name="__main__")
