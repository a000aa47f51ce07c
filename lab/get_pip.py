"""Offline stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test sanity --venv fetches get-pip from a host that CI machines cannot
reach. The Makefile places this file at ~/.ansible/test/cache/get_pip_24_2.py,
where ansible-test looks first. Like get-pip, it runs `pip install` with the
arguments it is given (pip==24.2 and friends, fetched from PyPI), but it
bootstraps from the pip wheel that Python's own ensurepip bundles.
"""
import glob
import os
import sys

import ensurepip


def main():
    bundled = os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")
    wheels = sorted(glob.glob(os.path.join(bundled, "pip-*.whl")))
    if not wheels:
        sys.exit("get_pip: no pip wheel is bundled with ensurepip in %s" % bundled)
    sys.path.insert(0, wheels[-1])
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel

    # get-pip's own switches: without them it would add setuptools and wheel.
    args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    sys.exit(pip_main(["install", "--upgrade", "--force-reinstall"] + args))


if __name__ == "__main__":
    main()
