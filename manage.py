#!/usr/bin/env python
"""Django's command-line utility; `platform/` holds the project and its apps."""

import os
import sys
from pathlib import Path

# platform/ is a plain source folder (a package of that name would shadow the stdlib module).
sys.path.insert(0, str(Path(__file__).resolve().parent / "platform"))

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
