"""Time ``load_paths`` on N generated Pod documents (not collected by pytest).

Run: .venv/bin/python bench/bench_manifest_load.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from podnet.manifests import load_paths

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: pod-{i}
  namespace: ns-{ns}
  labels:
    app: app-{app}
    tier: web
spec:
  containers:
    - name: c
      image: nginx
      ports:
        - containerPort: 80
          name: http
      readinessProbe:
        httpGet:
          port: http
"""


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    text = "---\n".join(POD.format(i=i, ns=i % 10, app=i % 50) for i in range(n))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pods.yaml"
        path.write_text(text)
        start = time.perf_counter()
        m = load_paths([str(path)])
        elapsed = time.perf_counter() - start
    print(
        f"{len(m.pods)} pods ({len(text.splitlines())} lines) loaded in {elapsed:.2f} s "
        f"({elapsed / n * 1e3:.2f} ms/pod)"
    )


if __name__ == "__main__":
    main()
