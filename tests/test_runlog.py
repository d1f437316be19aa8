"""Run log: writer/reader round trip, torn lines, kill -9, flushing, following, listing."""

from __future__ import annotations

import json
import math
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tuitrain.engine.events import (STAT_COLUMNS, Alert, Checkpoint, ControlApplied, EpochEnd,
                                    Evaluated, GradStats, RunEnded, RunStarted, Step)
from tuitrain.preset import load_preset
from tuitrain.runlog import (EVENTS_FILE, INDEX_FILE, PID_FILE, STEPS_FILE, RunFollower,
                             RunLog, RunNotFound, RunWriter, encode_event, find_run,
                             list_runs)
from tuitrain.runlog.codec import STEP_RECORD, commit_record

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["dense", "dense_1", "output"]
NAN, INF = math.nan, math.inf


def preset_dict(name: str = "quickstart", chapter: str | None = None) -> dict:
    d = load_preset(REPO / "presets" / "quickstart.toml").model_dump(mode="json")
    d["name"], d["chapter"] = name, chapter
    return d


def started(t: float | None = None, epochs: int = 3, name: str = "quickstart") -> RunStarted:
    kw = {} if t is None else {"t": t}
    return RunStarted(run_id="r", preset=preset_dict(name), layers=LAYERS,
                      layer_info=[{"name": n, "params": 10} for n in LAYERS],
                      total_params=30, trainable_params=30, device="CPU", strategy="default",
                      steps_per_epoch=10, epochs=epochs, train_samples=320, val_samples=64,
                      data_source="embedded subset", pid=os.getpid(), **kw)


def step(i: int, loss: float = 0.5, **kw) -> Step:
    args = dict(step=i, epoch=(i - 1) // 10, loss=loss, accuracy=0.5 + i / 1000, lr=1e-3,
                clip_mode="off", clip_threshold=1.0, grad_norm=0.25 * i, clipped=i % 2 == 0,
                samples_per_s=1000.0 + i)
    args.update(kw)
    return Step(**args)


def grads(i: int, nonfinite: bool = False) -> GradStats:
    rng = np.random.default_rng(i)
    v = rng.normal(size=(len(LAYERS), len(STAT_COLUMNS))).astype(np.float32)
    if nonfinite:
        v[0, 0], v[1, 3], v[2, 8] = np.nan, np.inf, -np.inf
    return GradStats(step=i, epoch=(i - 1) // 10, columns=list(STAT_COLUMNS),
                     values=v.tolist(), frozen=[False, True, False])


def drop_none(x):
    if isinstance(x, dict):
        return {k: drop_none(v) for k, v in x.items() if v is not None}
    return [drop_none(v) for v in x] if isinstance(x, list) else x


def same(a, b) -> bool:
    """Equality where NaN equals NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def assert_same_log(a: RunLog, b: RunLog) -> None:
    assert a.steps.keys() == b.steps.keys()
    for k in a.steps:
        assert a.steps[k].dtype == b.steps[k].dtype
        np.testing.assert_array_equal(a.steps[k], b.steps[k], err_msg=k)
    assert same([e.to_dict() for e in a.journal], [e.to_dict() for e in b.journal])
    np.testing.assert_array_equal(a.grad_steps, b.grad_steps)
    assert (a.end_offset, a.torn) == (b.end_offset, b.torn)


def sample_events() -> list:
    evs = [started()]
    for i in range(1, 21):
        evs.append(step(i, loss=NAN if i == 7 else 1.0 / i,
                        grad_norm=INF if i == 8 else 0.1 * i,
                        accuracy=None if i == 9 else 0.5))
        if i % 5 == 0:
            evs.append(grads(i, nonfinite=i == 10))
        if i % 10 == 0:
            evs.append(EpochEnd(epoch=i // 10 - 1, step=i, lr=1e-3, duration_s=1.5,
                                metrics={"loss": 0.4, "val_accuracy": 0.7 + i / 100,
                                         "val_loss": NAN}))
    evs += [ControlApplied(step=12, command="set_lr", args={"lr": 0.01}, source="ui"),
            Alert(step=7, level="error", message="NaN", layer="dense"),
            Checkpoint(step=20, path="checkpoints/step-20.weights.h5"),
            Evaluated(step=20, metrics={"test_accuracy": 0.81, "test_loss": -INF}),
            RunEnded(status="finished", step=20, epoch=1, metrics={"val_accuracy": 0.9})]
    return evs


def test_round_trip_from_a_thread_keeps_nan_and_inf(tmp_path):
    evs = sample_events()
    with RunWriter(tmp_path, preset_dict("r01", "R01"), "r01 selu/deep") as w:
        t = threading.Thread(target=lambda: [w.emit(e) for e in evs])
        t.start()
        t.join()
    assert w.folder.name.endswith("_r01-selu-deep") and not (w.folder / PID_FILE).exists()
    text = w.events_path.read_text()
    for line in text.splitlines():  # strict JSON: no NaN / Infinity literals
        json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    log = RunLog.load(w.folder)
    assert same([e.to_dict() for e in log.events], [e.to_dict() for e in evs])
    assert_same_log(log, RunLog.load(w.folder, use_index=False))
    assert log.preset == drop_none(preset_dict("r01", "R01"))  # TOML has no null
    assert log.status == "finished" and not log.torn
    s = log.steps
    expect = [e for e in evs if isinstance(e, Step)]
    np.testing.assert_array_equal(s["step"], np.arange(1, 21))
    np.testing.assert_array_equal(s["loss"], [e.loss for e in expect])
    np.testing.assert_array_equal(s["accuracy"], [NAN if e.accuracy is None else e.accuracy
                                                  for e in expect])
    np.testing.assert_array_equal(s["grad_norm"], [e.grad_norm for e in expect])
    np.testing.assert_array_equal(s["clipped"], [e.clipped for e in expect])
    assert s["step"].dtype == np.int64 and s["clipped"].dtype == bool
    assert [e.step for e in log.grad_stats] == [5, 10, 15, 20]
    assert same(log.grad_stats[1].values, grads(10, nonfinite=True).values)
    assert log.alerts[0].message == "NaN"  # a string, not decoded as a float
    assert math.isinf(log.evaluated[0].metrics["test_loss"])
    assert [len(x) for x in (log.epochs, log.controls, log.checkpoints)] == [2, 1, 1]


def test_concurrent_emitters_with_background_flushing(tmp_path):
    with RunWriter(tmp_path, preset_dict(), "busy", flush_interval=0.001) as w:
        def emit(offset):
            for i in range(1500):
                w.emit(step(offset + i))
        threads = [threading.Thread(target=emit, args=(k * 10_000,)) for k in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    got = RunLog.load(w.folder).steps["step"]
    assert len(got) == 3000
    for k in (1, 2):  # each thread's events stay in its order
        mine = got[(got >= k * 10_000) & (got < (k + 1) * 10_000)]
        np.testing.assert_array_equal(mine, np.arange(k * 10_000, k * 10_000 + 1500))


def test_torn_last_line_blank_lines_and_unknown_kinds(tmp_path):
    with RunWriter(tmp_path, preset_dict(), "torn") as w:
        w.emit(started())
        for i in range(1, 6):
            w.emit(step(i))
        w.emit(grads(5))
    raw = w.events_path.read_bytes()
    extra = b'\n{"kind": "from_the_future", "t": 1.0}\n' + encode_event(step(6)).encode() + b"\n"
    torn = encode_event(step(7)).encode()
    w.events_path.write_bytes(raw + extra + torn[: len(torn) // 2])
    log = RunLog.load(w.folder)
    np.testing.assert_array_equal(log.steps["step"], [1, 2, 3, 4, 5, 6])
    assert log.torn and log.end_offset == len(raw + extra)
    assert log.started is not None and log.ended is None and log.status == "crashed"
    assert [g.step for g in log.grad_stats] == [5]
    # A torn grad-stats line is not indexed either.
    g = encode_event(grads(10)).encode()
    w.events_path.write_bytes(raw + g[:-5])
    assert list(RunLog.load(w.folder).grad_steps) == [5]


CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_runlog import preset_dict, started, step
    from tuitrain.runlog import RunWriter
    w = RunWriter({logs!r}, preset_dict(), "killed")
    w.emit(started())
    i = 0
    while True:
        i += 1
        w.emit(step(i))
        if i == 200:
            w.flush()
            print(w.folder, flush=True)
        time.sleep(0.0002)
""")


def test_kill_9_leaves_a_readable_crashed_run(tmp_path):
    code = CHILD.format(tests=str(Path(__file__).parent), logs=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(timeout=60), "child never reported its run folder"
        folder = Path(proc.stdout.readline().strip())
        assert (folder / PID_FILE).exists()
        assert RunLog.load(folder).status == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    log = RunLog.load(folder)
    assert_same_log(log, RunLog.load(folder, use_index=False))
    n = len(log.steps["step"])
    assert n >= 200
    np.testing.assert_array_equal(log.steps["step"], np.arange(1, n + 1))
    assert log.status == "crashed" and log.started is not None
    [summary] = list_runs(tmp_path)
    assert summary.status == "crashed" and summary.folder == folder


def test_emit_reaches_the_file_within_a_second_without_flush(tmp_path):
    with RunWriter(tmp_path, preset_dict(), "flush") as w:
        w.emit(step(1))
        follower = RunFollower(w.folder)
        t0 = time.monotonic()
        got = []
        while not got and time.monotonic() - t0 < 1.5:
            got = follower.poll()
            time.sleep(0.02)
        assert [e.step for e in got] == [1], "not on disk 1.5 s after emit"


def test_closed_is_true_only_once_every_event_is_on_disk(tmp_path):
    # The hang-up handler exits the process as soon as ``closed`` says so: it must not
    # say so while close() is still writing (a CI run lost its end event that way).
    w = RunWriter(tmp_path, preset_dict(), "closing", flush_interval=30.0)
    w.emit(started())
    for i in range(1, 3001):
        w.emit(step(i))
    w.emit(RunEnded(status="interrupted", step=3000, epoch=0, reason="signal"))
    closer = threading.Thread(target=w.close)
    closer.start()
    while not w.closed:          # the handler's view, polled as fast as it can be
        assert closer.is_alive() or w.closed
    log = RunLog.load(w.folder)
    assert log.ended is not None and log.ended.status == "interrupted"
    assert len(log.steps["step"]) == 3000
    assert w.wait_closed(0) is True
    closer.join()


def test_follower_returns_only_new_complete_lines(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    path = folder / EVENTS_FILE
    f = RunFollower(folder)
    assert f.poll() == []  # no file yet
    lines = [encode_event(step(i)).encode() + b"\n" for i in (1, 2, 3)]
    with open(path, "ab") as out:
        out.write(lines[0] + lines[1][:40])
        out.flush()
        assert [e.step for e in f.poll()] == [1]
        assert f.poll() == []
        out.write(lines[1][40:] + lines[2])
        out.flush()
        assert [e.step for e in f.poll()] == [2, 3]
    assert f.offset == sum(map(len, lines))
    log = RunLog.load(folder)
    with open(path, "ab") as out:
        out.write(encode_event(grads(4)).encode() + b"\n")
    later = RunFollower(folder, offset=log.end_offset).poll()
    assert [type(e) for e in later] == [GradStats] and same(later[0].values, grads(4).values)
    f.close()


def test_grad_series_decimates_and_grad_at_finds_the_sample(tmp_path):
    with RunWriter(tmp_path, preset_dict(), "grads") as w:
        w.emit(started())
        for i in range(10, 510, 10):
            w.emit(step(i))
            w.emit(grads(i))
    log = RunLog.load(w.folder)
    full = log.grad_series()
    assert full.values.shape == (50, 3, len(STAT_COLUMNS)) and full.values.dtype == np.float32
    np.testing.assert_array_equal(full.values[3], np.array(grads(40).values, np.float32))
    assert full.frozen[0].tolist() == [False, True, False] and full.layers == LAYERS
    few = log.grad_series(max_samples=10)
    assert len(few.steps) == 10 and few.steps[0] == 10 and few.steps[-1] == 500
    np.testing.assert_array_equal(few.values[-1], full.values[-1])
    assert log.grad_at(5) is None
    assert log.grad_at(47).step == 40 and log.grad_at(500).step == 500


def _finished_run(logs, name, t, vals, status="finished"):
    with RunWriter(logs, preset_dict(name, "R01" if name == "r01" else None), name) as w:
        w.emit(started(t=t, epochs=4, name=name))
        for e, v in enumerate(vals):
            w.emit(EpochEnd(epoch=e, step=10 * (e + 1), lr=1e-3, duration_s=1.0,
                            metrics={"val_accuracy": v}, t=t + e + 1))
        w.emit(RunEnded(status=status, step=10 * len(vals), epoch=len(vals), t=t + 100))
    return w.folder


def test_list_runs_newest_first_with_fields(tmp_path):
    old = _finished_run(tmp_path, "r01", 1000.0, [0.7, 0.8, 0.75])
    mid = _finished_run(tmp_path, "adam", 2000.0, [0.6], status="stopped")
    crashed = RunWriter(tmp_path, preset_dict("nadam"), "nadam")
    crashed.emit(started(t=3000.0))
    crashed.emit(step(1, t=3005.0))
    crashed.close()  # no end event and no pid file: the process is gone
    live = RunWriter(tmp_path, preset_dict("live"), "live")
    try:
        live.emit(started(t=4000.0))
        live.flush()
        (tmp_path / "not-a-run").mkdir()
        runs = list_runs(tmp_path)
        assert [r.folder for r in runs] == [live.folder, crashed.folder, mid, old]
        assert [r.status for r in runs] == ["running", "crashed", "stopped", "finished"]
        r = runs[3]
        assert (r.preset_name, r.chapter, r.epochs_done, r.epochs_total) == ("r01", "R01", 3, 4)
        assert r.best_val_accuracy == 0.8 and r.duration_s == 100.0 and r.started_at == 1000.0
        assert runs[1].duration_s == 5.0 and runs[1].best_val_accuracy is None
        assert json.loads(json.dumps(r.to_dict()))["folder"] == str(old)
    finally:
        live.close()
    assert list_runs(tmp_path / "missing") == []


def test_find_run_by_name_prefix_latest_and_errors(tmp_path):
    with pytest.raises(RunNotFound, match="no runs"):
        find_run(tmp_path, "latest")
    a = _finished_run(tmp_path, "r01-selu", 1000.0, [0.7])
    b = _finished_run(tmp_path, "r02-relu", 2000.0, [0.7])
    assert find_run(tmp_path, "latest") == b
    assert find_run(tmp_path, a.name) == a and find_run(tmp_path, str(a)) == a
    assert find_run(tmp_path, "r01") == a  # prefix of the preset part of the name
    assert find_run(tmp_path, a.name[:-2]) == a  # unique prefix of the folder name
    with pytest.raises(RunNotFound, match="matches 2 runs"):
        find_run(tmp_path, "r0")
    with pytest.raises(RunNotFound, match="no run 'zzz'"):
        find_run(tmp_path, "zzz")
    with pytest.raises(RunNotFound, match="no live runs"):
        find_run(tmp_path, "latest", live=True)
    with RunWriter(tmp_path, preset_dict("live"), "live") as w:
        w.emit(started(t=500.0))  # older than the others, but the only live one
        w.flush()
        assert find_run(tmp_path, "latest", live=True) == w.folder


def test_same_second_same_name_gets_a_suffix(tmp_path):
    now = time.time()
    for dt in (0, 1, 2):  # occupy this second and the next two, whatever the clock does
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(now + dt))
        (tmp_path / f"{stamp}_dup").mkdir()
    with RunWriter(tmp_path, preset_dict(), "dup") as w:
        assert w.folder.name.endswith("_dup-2")
        assert w.model_path == w.folder / "model.keras"
        assert w.checkpoint_dir == w.folder / "checkpoints"


def test_status_follows_the_pid_files_process(tmp_path):
    with RunWriter(tmp_path, preset_dict(), "pid") as w:
        w.emit(started())
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                            stdin=subprocess.PIPE)
    try:
        (w.folder / PID_FILE).write_text(f"{proc.pid}\n")
        assert RunLog.load(w.folder).status == "running"
        proc.kill()
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # dead, not yet reaped
        assert RunLog.load(w.folder).status == "crashed"
    finally:
        proc.wait()
        proc.stdin.close()
    assert RunLog.load(w.folder).status == "crashed"
    # A pid file naming a live process that started at another time (a reused pid).
    (w.folder / PID_FILE).write_text(f"{os.getpid()}\n12345\n")
    assert RunLog.load(w.folder).status == "crashed"


def test_runlog_imports_neither_tensorflow_nor_textual():
    code = ("import sys, tuitrain.runlog; "
            "print([m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras', 'textual')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def _indexed_run(logs) -> Path:
    with RunWriter(logs, preset_dict(), "indexed") as w:
        for e in sample_events()[:-1]:
            w.emit(e)
            if isinstance(e, Step) and e.step % 4 == 0:
                w.flush()  # several batches, several commits
    return w.folder


def test_the_binary_index_is_used_and_agrees_with_the_text(tmp_path):
    folder = _indexed_run(tmp_path)
    text = RunLog.load(folder, use_index=False)
    assert_same_log(RunLog.load(folder), text)
    # The index is what load() reads: a changed steps.bin record shows (and only there).
    data = bytearray((folder / STEPS_FILE).read_bytes())
    row = list(STEP_RECORD.unpack_from(data, 0))
    row[2] = 123.0  # loss of step 1
    STEP_RECORD.pack_into(data, 0, *row)
    (folder / STEPS_FILE).write_bytes(bytes(data))
    assert RunLog.load(folder).steps["loss"][0] == 123.0
    assert RunLog.load(folder, use_index=False).steps["loss"][0] == 1.0


def test_index_ahead_of_the_text_or_broken_falls_back_to_the_text(tmp_path):
    folder = _indexed_run(tmp_path)
    text = RunLog.load(folder, use_index=False)
    events = folder / EVENTS_FILE
    size = events.stat().st_size
    # A kill after the index files were written and before the batch's lines were.
    with open(folder / STEPS_FILE, "ab") as f:
        f.write(STEP_RECORD.pack(*[99.0] * 10))
    with open(folder / INDEX_FILE, "ab") as f:
        f.write(commit_record(size + 500, len(text.steps["step"]) + 1))
    assert_same_log(RunLog.load(folder), text)
    # A batch whose lines are half written: only what is complete counts, torn reported.
    torn = encode_event(step(21)).encode()
    with open(events, "ab") as f:
        f.write(torn[:30])
    log = RunLog.load(folder)
    assert log.torn and log.end_offset == size
    assert_same_log(log, RunLog.load(folder, use_index=False))
    # An index that points at garbage, a truncated steps.bin, no index at all.
    idx = bytearray((folder / INDEX_FILE).read_bytes())
    (folder / INDEX_FILE).write_bytes(bytes(idx[:8]) + b"\x07" + bytes(idx[9:]))
    assert_same_log(RunLog.load(folder), log)
    (folder / INDEX_FILE).write_bytes(bytes(idx))
    (folder / STEPS_FILE).write_bytes((folder / STEPS_FILE).read_bytes()[:100])
    assert_same_log(RunLog.load(folder), log)
    (folder / INDEX_FILE).unlink()
    (folder / STEPS_FILE).unlink()
    assert_same_log(RunLog.load(folder), log)
