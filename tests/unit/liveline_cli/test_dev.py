"""`make dev` (liveline_cli.dev): a receiver that cannot start stops everything and says so."""

from __future__ import annotations

import subprocess
import sys

from liveline_cli import dev


def test_make_dev_stops_dagster_dev_when_the_receiver_cannot_start(monkeypatch, caplog):
    started: list[subprocess.Popen] = []

    def fake_dagster_dev(s, env=None, **popen):  # a process that would run until stopped
        started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                        start_new_session=True))  # fmt: skip
        return started[-1]

    def failing_receiver(s, env=None, **popen):  # as when its port is taken
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"],
                                start_new_session=True)  # fmt: skip

    monkeypatch.setattr(dev, "start", fake_dagster_dev)
    monkeypatch.setattr(dev, "start_receiver", failing_receiver)
    assert dev.main([]) == 1
    assert started[0].poll() is not None, "dagster dev was left running"
    assert "the receiver exited with 3" in caplog.text
    assert "LIVELINE_WEBHOOK_PORT" in caplog.text
