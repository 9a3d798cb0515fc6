"""Debian's Chromium for the browser tests: found, or installed with apt-get (never downloaded).

Playwright drives this binary through `executable_path`; `playwright install` is never run.
`python -m deploy.browser` (`make browser`) installs it when missing and prints its path.
"""

from __future__ import annotations

import os
from pathlib import Path

from deploy.processes import Log, ServerError, ensure_tool

APT_PACKAGE = "chromium"
# /usr/bin/chromium is Debian's shell wrapper; the browser itself lives here.
DEBIAN_BINARY = Path("/usr/lib/chromium/chromium")
# Root in a container: no user namespace for Chromium's sandbox, and a small /dev/shm.
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio"]


def chromium_path(log: Log = print) -> str:
    """Path of Debian's Chromium binary; installs the `chromium` package when missing and root.

    Not root: raises deploy.processes.ServerError with the `apt-get install` line to run.
    """
    wrapper = ensure_tool("chromium", APT_PACKAGE, log=log)
    if DEBIAN_BINARY.is_file() and os.access(DEBIAN_BINARY, os.X_OK):
        return str(DEBIAN_BINARY)
    return wrapper


def main() -> None:
    try:
        print(f"chromium for the browser tests: {chromium_path()}")
    except ServerError as exc:
        raise SystemExit(f"The browser tests need Debian's chromium: {exc}") from None


if __name__ == "__main__":
    main()
