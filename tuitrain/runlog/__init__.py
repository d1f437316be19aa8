"""Run logs: one folder per run with an append-only, crash-safe event stream.

``RunWriter`` writes a run folder, ``RunLog`` reads one (the API of the dashboard's review,
attach and export), ``RunFollower`` tails one being written by another process, and
``list_runs`` / ``find_run`` find runs under ``logs/``. No TensorFlow and no Textual here.
"""

from tuitrain.runlog.codec import (CHECKPOINT_DIR, EVENTS_FILE, INDEX_FILE, MODEL_FILE,
                                   PID_FILE, PRESET_FILE, STEP_COLUMNS, STEPS_FILE,
                                   decode_event, encode_event, parse_line)
from tuitrain.runlog.follow import RunFollower, iter_events
from tuitrain.runlog.reader import GradSeries, RunLog, live_status
from tuitrain.runlog.runs import RunNotFound, RunSummary, find_run, list_runs, summarize
from tuitrain.runlog.writer import RunWriter, process_alive, read_pid

__all__ = [
    "CHECKPOINT_DIR", "EVENTS_FILE", "INDEX_FILE", "MODEL_FILE", "PID_FILE", "PRESET_FILE",
    "STEPS_FILE", "STEP_COLUMNS", "GradSeries", "RunFollower", "RunLog", "RunNotFound",
    "RunSummary", "RunWriter", "decode_event", "encode_event", "find_run", "iter_events",
    "list_runs", "live_status", "parse_line", "process_alive", "read_pid", "summarize",
]
