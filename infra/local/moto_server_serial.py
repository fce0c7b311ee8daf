"""moto's server, with requests handled one at a time.

DynamoDB executes TransactWriteItems and conditional writes atomically (serializably); moto's
threaded server does not lock around them, so concurrent requests race (two conditional
transactions both pass; concurrent ADD updates lose counts). Serializing requests restores the
semantics the exactly-once tests rely on. Connections are still accepted concurrently.

Usage: python moto_server_serial.py -H 127.0.0.1 -p PORT   (same arguments as moto_server)
"""

import sys
import threading

import moto.server as moto_server

_lock = threading.Lock()
_original = moto_server.DomainDispatcherApplication


class SerialApplication(_original):
    def __call__(self, environ, start_response):
        with _lock:
            # Materialise the response inside the lock: moto computes it lazily otherwise.
            body = list(super().__call__(environ, start_response))
        return body


moto_server.DomainDispatcherApplication = SerialApplication

# EventBridge -> CloudWatch Logs targets: moto stamps the log event with a float of unix ms
# (1796018275490.648); AWS uses an integer, and the Rust SDK refuses the float when it reads
# FilterLogEvents ("invalid number"). Only the events module's use is changed.
import moto.events.models as _events_models  # noqa: E402

_unix_time_millis = _events_models.unix_time_millis
_events_models.unix_time_millis = lambda *a: int(_unix_time_millis(*a))

if __name__ == "__main__":
    moto_server.main(sys.argv[1:])
