"""``python -m tuitrain`` runs the command line."""

from tuitrain.cli import main

raise SystemExit(main())
