"""Where does a /score request spend its time? cProfile over the Flask test client.

Prints the top functions by cumulative and by own time for single-row and 100-row
requests. The test client skips the network and gunicorn; what remains is the app.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serving import create_app  # noqa: E402
from tests.support import models  # noqa: E402

REQUESTS = 3000


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        models.write(models.train(), Path(tmp))
        client = create_app({"MODEL_DIR": tmp}).test_client()
        row = json.loads((Path(tmp) / "model_card.json").read_text())["golden"]["inputs"][0]
        for rows in (1, 100):
            body = json.dumps({"input": [row] * rows})
            post = lambda b=body: client.post(  # noqa: E731
                "/score", data=b, content_type="application/json"
            )
            post()
            started = time.perf_counter()
            for _ in range(REQUESTS):
                post()
            per_request = (time.perf_counter() - started) / REQUESTS * 1e6
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(REQUESTS):
                post()
            profiler.disable()
            print(f"\n=== {rows}-row requests: {per_request:.0f} us each in-process ===")
            stats = pstats.Stats(profiler).strip_dirs()
            stats.sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
