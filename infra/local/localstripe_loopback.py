"""Run localstripe (pinned 1.15.10) on loopback only, with its pickle in a private dir.

Upstream `localstripe --port P` binds '::' (all interfaces, v4+v6) and its Store pickles
itself after every write to the hard-coded path /tmp/localstripe.pickle (not
tempfile.gettempdir()), so two instances overwrite each other's file. This launcher:

  * imports localstripe's module-level aiohttp app (localstripe.server.app, routes
    registered at import time) and serves it with web.run_app(host=..., port=...);
  * starts from an empty store, like `localstripe --from-scratch` (never loads a pickle);
  * by default never writes the pickle at all (upstream re-pickles the whole store after
    every write: 300 customer creations take 6.4 s with it, 0.3 s without); with
    LOCALSTRIPE_PERSIST=1 it writes it to $LOCALSTRIPE_STATE_DIR (default:
    tempfile.gettempdir(), i.e. $TMPDIR), never to the shared /tmp/localstripe.pickle.

Usage: python localstripe_loopback.py --port 8420 [--host 127.0.0.1]
"""

import argparse
import logging
import os
import pickle
import tempfile

from localstripe import resources


def _pickle_path():
    state_dir = os.environ.get("LOCALSTRIPE_STATE_DIR") or tempfile.gettempdir()
    return os.path.join(state_dir, "localstripe.pickle")


def _persist():
    return os.environ.get("LOCALSTRIPE_PERSIST", "0") == "1"


def _dump_to_disk(self):
    if not _persist():
        return
    with open(_pickle_path(), "wb") as f:
        pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)


def _no_load(self):
    # --from-scratch semantics: never read a previous pickle.
    pass


resources.Store.dump_to_disk = _dump_to_disk
resources.Store.try_load_from_disk = _no_load

from aiohttp import web  # noqa: E402
from localstripe import server  # noqa: E402  (builds server.app at import)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()

    logger = logging.getLogger("aiohttp.access")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(logging.StreamHandler())

    print(
        "localstripe %s on http://%s:%d (pickle: %s)"
        % (
            getattr(__import__("localstripe"), "__version__", "?"),
            args.host,
            args.port,
            _pickle_path() if _persist() else "off",
        ),
        flush=True,
    )
    web.run_app(server.app, host=args.host, port=args.port, access_log=logger)


if __name__ == "__main__":
    main()
