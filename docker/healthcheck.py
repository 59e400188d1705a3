"""The image's HEALTHCHECK: GET /healthz of the review UI inside the container; exit 0 when it answers 200.

`piccl run` answers 200 when all its parts are alive and 503 otherwise, without a login. The address is the
one the UI listens on (PICCL_UI__HOST, PICCL_UI__PORT), with a wildcard address asked on the loopback.
Standard library only: the image has no curl.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping


def healthz_url(environ: Mapping[str, str] = os.environ) -> str:
    host = environ.get("PICCL_UI__HOST", "").strip() or "127.0.0.1"
    port = environ.get("PICCL_UI__PORT", "").strip() or "8080"
    if host in {"0.0.0.0", "*"}:
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def main() -> int:
    url = healthz_url()
    # The container's own address: an http_proxy in its environment must not be asked.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=8) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1
    print(f"{url}: {status}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
