"""The engine under tf.distribute.MirroredStrategy on two logical CPU devices.

Logical devices must be configured before TensorFlow initializes, so this runs in a
fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, "tests")
    from conftest import tiny_preset
    from tuitrain.engine.events import GradStats, RunStarted, Step
    from tuitrain.engine.trainer import Trainer
    events = []
    p = tiny_preset(train__distribute="mirrored", train__epochs=2,
                    clipping={"mode": "global_norm", "threshold": 0.5})
    end = Trainer(p, sink=events.append, logs_dir=sys.argv[1]).run()
    started = [e for e in events if isinstance(e, RunStarted)][0]
    steps = [e for e in events if isinstance(e, Step)]
    stats = [e for e in events if isinstance(e, GradStats)]
    print("RESULT " + json.dumps({
        "status": end.status, "strategy": started.strategy, "steps": len(steps),
        "first_loss": steps[0].loss, "last_loss": steps[-1].loss,
        "rows": len(stats[-1].values), "clipped": steps[-1].clipped,
    }))
""")


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert line, proc.stderr[-3000:]
    r = json.loads(line[0][len("RESULT "):])
    assert r["status"] == "finished"
    assert r["strategy"] == "MirroredStrategy(2)"
    assert r["steps"] == 20
    assert r["rows"] == 3
    assert r["last_loss"] < r["first_loss"]
