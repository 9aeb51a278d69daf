"""uv's options for the package sources pip is configured with, so `scripts/setup.sh` installs with uv from exactly
where pip would.

uv reads none of pip's configuration. This reads pip's, as `pip config list` prints it (files and PIP_* variables),
on standard input and prints one uv argument per line: each index, find-links location and constraint file, and
`--index-strategy unsafe-best-match`, which is pip's own rule (the best version among all indexes). With `cert`
as its argument it prints the certificate bundle pip is told to trust (for SSL_CERT_FILE), or nothing.
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterable

FLAGS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
}


def _settings(lines: Iterable[str]) -> list[tuple[str, list[str]]]:
    """(option, values) of each line "section.option='value value'" of `pip config list`."""
    found = []
    for line in lines:
        key, sep, raw = line.strip().partition("=")
        if not sep:
            continue
        try:
            words = shlex.split(raw)
        except ValueError:
            continue
        # pip splits a multi-valued option on whitespace; the section (global, install, :env:) does not matter here
        found.append((key.rsplit(".", 1)[-1], " ".join(words).split()))
    return found


def uv_arguments(lines: Iterable[str]) -> list[str]:
    """The arguments to give uv for pip's configured package sources, each once, in the order pip lists them."""
    arguments = ["--index-strategy", "unsafe-best-match"]
    seen: set[tuple[str, str]] = set()
    for option, values in _settings(lines):
        flag = FLAGS.get(option)
        for value in values if flag else ():
            if (flag, value) not in seen:
                seen.add((flag, value))
                arguments += [flag, value]
    return arguments


def certificate(lines: Iterable[str]) -> str:
    """The certificate bundle pip trusts ("" when none is configured)."""
    bundles = [values[0] for option, values in _settings(lines) if option == "cert" and values]
    return bundles[-1] if bundles else ""


def main(argv: list[str]) -> int:
    """Command line: pip's configuration on standard input, uv's arguments (or with `cert`, the bundle) out."""
    lines = sys.stdin.read().splitlines()
    if argv == ["cert"]:
        print(certificate(lines))
    elif not argv:
        print("\n".join(uv_arguments(lines)))
    else:
        print("usage: pip config list | python scripts/uv_options.py [cert]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
