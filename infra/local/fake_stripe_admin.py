"""Fakes for the APIs the setup and migration commands call that no local emulator serves.

One stdlib HTTP server on 127.0.0.1 (started by stack.sh, URL exported as
STRIPE_ADMIN_API_BASE and EVENT_SOURCES_ENDPOINT_URL):

  * Stripe v2 event destinations (localstripe has no /v2 routes):
      POST /v2/core/event_destinations            create (JSON body)
      GET  /v2/core/event_destinations            list (limit, page; next_page_url)
      GET  /v2/core/event_destinations/{id}       retrieve
      POST /v2/core/event_destinations/{id}/ping  a v2.core.event_destination.ping event
      POST /v2/core/event_destinations/{id}/enable | /disable
    Shapes follow the Stripe API reference as the official SDK (stripe 16.1.0) types them;
    unknown parameters are refused (400 parameter_unknown), as Stripe does.
  * Stripe v1 webhook endpoints (localstripe only has its private /_config/webhooks/{id}):
      GET/POST /v1/webhook_endpoints, GET/POST/DELETE /v1/webhook_endpoints/{id}
    (form-encoded, like Stripe v1). Every change is mapped onto localstripe's own webhook
    configuration (POST {STRIPE_API_BASE}/_config/webhooks/{id}, JSON body with `events`),
    so localstripe really stops delivering a type that is removed from `enabled_events`.
  * AWS-side behaviour of Stripe's partner event sources:
      - a destination's partner event source appears after a delay per AWS account
        (default FAKE_SOURCE_DELAY_SECONDS, 1 s; or never, see /_fake/accounts), and is then
        created in moto too (CreatePartnerEventSource), so the partner bus can be created there;
      - EventBridge ListEventSources (AWS JSON 1.1, X-Amz-Target AWSEvents.ListEventSources:
        moto does not implement it). State is ACTIVE when moto has a bus of the source's name
        (that is what associating means), DELETED after the 7-day expiry, else PENDING;
      - ping: when the source is associated, the ping event is put on the partner bus in moto
        (so the partner monitoring rule, if deployed, logs it), ~0.3 s later, as Stripe would.
  * Test control (not Stripe): POST /_fake/accounts/{aws_account_id}
    {"source_delay_seconds": <float or null for never>}, POST /_fake/sources/{ed_id}/expire,
    GET /_fake/requests (every request received, for assertions).

Usage: python fake_stripe_admin.py --port P [--host 127.0.0.1]
Env: AWS_ENDPOINT_URL (moto), STRIPE_API_BASE (localstripe), AWS credentials for moto.
"""

import argparse
import base64
import datetime
import json
import os
import secrets
import string
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SOURCE_PREFIX = "aws.partner/stripe.com/"
SOURCE_LIFETIME_SECONDS = 7 * 86400
DEFAULT_DELAY = float(os.environ.get("FAKE_SOURCE_DELAY_SECONDS", "1"))
PING_DELAY_SECONDS = 0.3

LOCK = threading.RLock()
DESTINATIONS = {}  # id -> dict (the stored object plus private keys starting with "_")
ORDER = []  # ids, oldest first
ACCOUNTS = {}  # aws account id -> {"source_delay_seconds": float | None}
ENDPOINTS = {}  # we_ id -> webhook endpoint object
ENDPOINT_ORDER = []
REQUESTS = []  # {"method", "path", "body"} of every API request

# Parameters as the API reference (and the SDK's params types) list them.
CREATE_PARAMS = {
    "amazon_eventbridge", "azure_event_grid", "description", "enabled_events",
    "event_payload", "events_from", "include", "metadata", "name",
    "snapshot_api_version", "type", "webhook_endpoint",
}
EVENTBRIDGE_PARAMS = {"aws_account_id", "aws_region"}
LIST_PARAMS = {"include", "limit", "page"}
RETRIEVE_PARAMS = {"include"}
WEBHOOK_CREATE_PARAMS = {"url", "enabled_events", "description", "metadata", "api_version", "connect", "expand"}
WEBHOOK_UPDATE_PARAMS = {"url", "enabled_events", "description", "metadata", "disabled", "expand"}


def now_iso(t=None):
    t = time.time() if t is None else t
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def rand_id(prefix, n):
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


class ApiError(Exception):
    def __init__(self, status, message, code=None, param=None, type_="invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.type = status, message, code, param, type_

    def body(self):
        err = {"type": self.type, "message": self.message}
        if self.code:
            err["code"] = self.code
        if self.param:
            err["param"] = self.param
        return {"error": err}


def unknown(params, allowed, prefix=""):
    for k in params:
        if k not in allowed:
            raise ApiError(400, "Received unknown parameter: %s%s" % (prefix, k), "parameter_unknown", prefix + k)


def required(params, name):
    if params.get(name) in (None, ""):
        raise ApiError(400, "Missing required param: %s." % name, "parameter_missing", name)


# ---------------------------------------------------------------- moto (AWS side)

def _boto(service):
    import boto3  # from the venv; only needed once a source appears

    return boto3.client(service, endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
                        region_name=os.environ.get("AWS_REGION", "us-east-2"))


def bus_exists(name):
    if not os.environ.get("AWS_ENDPOINT_URL"):
        return False
    try:
        _boto("events").describe_event_bus(Name=name)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not associated"
        return False


def create_source_in_moto(name, account):
    if not os.environ.get("AWS_ENDPOINT_URL"):
        return
    try:
        _boto("events").create_partner_event_source(Name=name, Account=account)
    except Exception as e:  # noqa: BLE001
        print("fake: CreatePartnerEventSource %s failed: %s" % (name, e), flush=True)


def put_on_partner_bus(name, detail_type, detail):
    try:
        out = _boto("events").put_events(Entries=[{
            "EventBusName": name, "Source": name, "DetailType": detail_type,
            "Detail": json.dumps(detail),
        }])
        print("fake: ping put on %s: %s" % (name, out.get("FailedEntryCount")), flush=True)
    except Exception as e:  # noqa: BLE001 - AWS drops events of an unassociated source
        print("fake: ping to %s dropped: %s" % (name, e), flush=True)


# ---------------------------------------------------------------- destinations

def source_of(d):
    """Materialises the partner source once its delay has passed; returns it or None."""
    src = d["_source"]
    if src is None:
        if d["_appear_at"] is None or time.time() < d["_appear_at"]:
            return None
        acct = d["amazon_eventbridge"]["aws_account_id"]
        region = d["_region"]
        name = SOURCE_PREFIX + d["id"]
        created = d["_appear_at"]
        src = {
            "Name": name,
            "Arn": "arn:aws:events:%s::event-source/%s" % (region, name),
            "CreatedBy": "stripe.com",
            "CreationTime": created,
            "ExpirationTime": created + SOURCE_LIFETIME_SECONDS,
            "_account": acct,
        }
        d["_source"] = src
        create_source_in_moto(name, acct)
    return src


def source_state(src):
    if bus_exists(src["Name"]):
        return "ACTIVE"
    if time.time() >= src["ExpirationTime"]:
        return "DELETED"
    return "PENDING"


def render(d):
    out = {k: v for k, v in d.items() if not k.startswith("_")}
    if d["type"] == "amazon_eventbridge":
        eb = {"aws_account_id": d["amazon_eventbridge"]["aws_account_id"]}
        src = source_of(d)
        if src is None:
            eb["aws_event_source_status"] = "unknown"
        else:
            state = source_state(src)
            eb["aws_event_source_arn"] = src["Arn"]
            eb["aws_event_source_status"] = state.lower()
            if state == "DELETED" and out["status"] == "enabled":
                d["status"] = out["status"] = "disabled"
                d["status_details"] = out["status_details"] = {
                    "disabled": {"reason": "no_aws_event_source_exists"}}
        out["amazon_eventbridge"] = eb
    return out


def create_destination(p):
    unknown(p, CREATE_PARAMS)
    for name in ("name", "type", "event_payload", "enabled_events"):
        required(p, name)
    if p["type"] not in ("amazon_eventbridge", "azure_event_grid", "webhook_endpoint"):
        raise ApiError(400, "Invalid type: must be one of amazon_eventbridge, azure_event_grid, or webhook_endpoint", "parameter_invalid_string", "type")
    if p["type"] != "amazon_eventbridge":
        raise ApiError(400, "This fake only implements type amazon_eventbridge", "parameter_invalid_string", "type")
    if p["event_payload"] not in ("snapshot", "thin"):
        raise ApiError(400, "Invalid event_payload: must be one of snapshot or thin", "parameter_invalid_string", "event_payload")
    if p["event_payload"] == "thin" and "snapshot_api_version" in p:
        raise ApiError(400, "snapshot_api_version can only be set for snapshot event destinations", "parameter_invalid_string", "snapshot_api_version")
    ev = p.get("enabled_events")
    if not isinstance(ev, list) or not ev or not all(isinstance(t, str) and t for t in ev):
        raise ApiError(400, "enabled_events must be a non-empty list of event types", "parameter_invalid_string", "enabled_events")
    if p["event_payload"] == "thin" and any(not (t.startswith("v1.") or t.startswith("v2.")) for t in ev):
        raise ApiError(400, "Thin event destinations take thin event types (v1.… or v2.…)", "parameter_invalid_string", "enabled_events")
    if p["event_payload"] == "snapshot" and any(t.startswith("v1.") or t.startswith("v2.") for t in ev):
        raise ApiError(400, "Snapshot event destinations take v1 event types without a prefix", "parameter_invalid_string", "enabled_events")
    aeb = p.get("amazon_eventbridge")
    if not isinstance(aeb, dict):
        raise ApiError(400, "Missing required param: amazon_eventbridge.", "parameter_missing", "amazon_eventbridge")
    unknown(aeb, EVENTBRIDGE_PARAMS, "amazon_eventbridge.")
    for k in ("aws_account_id", "aws_region"):
        if not isinstance(aeb.get(k), str) or not aeb[k]:
            raise ApiError(400, "Missing required param: amazon_eventbridge.%s." % k, "parameter_missing", "amazon_eventbridge." + k)
    if not (len(aeb["aws_account_id"]) == 12 and aeb["aws_account_id"].isdigit()):
        raise ApiError(400, "amazon_eventbridge.aws_account_id must be a 12-digit AWS account id", "parameter_invalid_string", "amazon_eventbridge.aws_account_id")
    md = p.get("metadata") or {}
    if not isinstance(md, dict) or not all(isinstance(v, str) for v in md.values()):
        raise ApiError(400, "metadata values must be strings", "parameter_invalid_string", "metadata")
    t = time.time()
    with LOCK:
        acct = aeb["aws_account_id"]
        delay = ACCOUNTS.get(acct, {}).get("source_delay_seconds", DEFAULT_DELAY)
        d = {
            "id": rand_id("ed_test_61", 42),
            "object": "v2.core.event_destination",
            "amazon_eventbridge": {"aws_account_id": acct},
            "created": now_iso(t),
            "description": p.get("description", ""),
            "enabled_events": list(ev),
            "event_payload": p["event_payload"],
            "events_from": p.get("events_from") or ["@self"],
            "livemode": False,
            "metadata": md,
            "name": p["name"],
            "snapshot_api_version": p.get("snapshot_api_version") if p["event_payload"] == "snapshot" else None,
            "status": "enabled",
            "status_details": None,
            "type": p["type"],
            "updated": now_iso(t),
            "_region": aeb["aws_region"],
            "_appear_at": None if delay is None else t + float(delay),
            "_source": None,
        }
        DESTINATIONS[d["id"]] = d
        ORDER.append(d["id"])
        return render(d)


def get_destination(id_):
    d = DESTINATIONS.get(id_)
    if d is None:
        raise ApiError(404, "No such event destination: '%s'" % id_, "resource_missing", "id")
    return d


def list_destinations(q):
    unknown(q, LIST_PARAMS)
    limit = int(q.get("limit", 20))
    if not 1 <= limit <= 100:
        raise ApiError(400, "limit must be between 1 and 100", "parameter_invalid_integer", "limit")
    start = int(q.get("page", "0") or 0)
    with LOCK:
        ids = ORDER[::-1]  # newest first
        page = [render(DESTINATIONS[i]) for i in ids[start:start + limit]]
        nxt = start + limit
        next_url = "/v2/core/event_destinations?limit=%d&page=%d" % (limit, nxt) if nxt < len(ids) else None
    return {"data": page, "next_page_url": next_url, "previous_page_url": None}


def ping(id_):
    with LOCK:
        d = get_destination(id_)
        render(d)
        t = time.time()
        event = {
            "id": rand_id("evt_test_65", 40),
            "object": "v2.core.event",
            "context": None,
            "created": now_iso(t),
            "livemode": False,
            "reason": None,
            "related_object": {"id": d["id"], "type": "v2.core.event_destination",
                               "url": "/v2/core/event_destinations/" + d["id"]},
            "type": "v2.core.event_destination.ping",
        }
        src = d["_source"]
        deliver = d["status"] == "enabled" and src is not None
    if deliver:
        threading.Timer(PING_DELAY_SECONDS, put_on_partner_bus,
                        args=(src["Name"], event["type"], event)).start()
    return event


def set_enabled(id_, enabled):
    with LOCK:
        d = get_destination(id_)
        d["status"] = "enabled" if enabled else "disabled"
        d["status_details"] = None if enabled else {"disabled": {"reason": "user"}}
        d["updated"] = now_iso()
        return render(d)


def list_event_sources(body):
    prefix = body.get("NamePrefix", "")
    for k in body:
        if k not in ("NamePrefix", "Limit", "NextToken"):
            raise ApiError(400, "Unknown field %s" % k, type_="ValidationException")
    with LOCK:
        out = []
        for i in ORDER:
            src = source_of(DESTINATIONS[i])
            if src is not None and src["Name"].startswith(prefix):
                s = {k: v for k, v in src.items() if not k.startswith("_")}
                s["State"] = source_state(src)
                out.append(s)
    return {"EventSources": out}


# ---------------------------------------------------------------- webhook endpoints (v1)

def parse_form(raw):
    """Stripe v1 form encoding: a[b]=c, a[]=x, a[0]=x -> nested dicts/lists."""
    out = {}
    for key, value in urllib.parse.parse_qsl(raw, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        cur = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt_is_list = not last and (parts[i + 1] == "" or parts[i + 1].isdigit())
            if last:
                if part == "" or part.isdigit():
                    cur.append(value)
                else:
                    cur[part] = value
            else:
                if isinstance(cur, list):
                    cur.append({})
                    cur = cur[-1]
                    continue
                cur = cur.setdefault(part, [] if nxt_is_list else {})
    return out


def sync_localstripe(ep):
    """Maps the endpoint onto localstripe's webhook config (events: None = all, [] = none)."""
    base = os.environ.get("STRIPE_API_BASE")
    if not base:
        return
    if ep["status"] != "enabled":
        events = []
    elif "*" in ep["enabled_events"]:
        events = None
    else:
        events = list(ep["enabled_events"])
    body = json.dumps({"url": ep["url"], "secret": ep["_secret"], "events": events}).encode()
    req = urllib.request.Request(base.rstrip("/") + "/_config/webhooks/" + ep["id"], data=body,
                                 method="POST", headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=5).read()
    except urllib.error.URLError as e:
        raise ApiError(502, "localstripe webhook config failed: %s" % e, type_="api_error")


def render_endpoint(ep, with_secret=False):
    out = {k: v for k, v in ep.items() if not k.startswith("_")}
    if with_secret:
        out["secret"] = ep["_secret"]
    return out


def check_events(ev):
    if not isinstance(ev, list) or not ev:
        raise ApiError(400, "enabled_events must be a non-empty list", "parameter_invalid_empty", "enabled_events")
    if "*" in ev and len(ev) > 1:
        raise ApiError(400, "'*' cannot be combined with other event types", "parameter_invalid_string", "enabled_events")


def create_endpoint(p):
    unknown(p, WEBHOOK_CREATE_PARAMS)
    required(p, "url")
    check_events(p.get("enabled_events"))
    with LOCK:
        ep = {
            "id": rand_id("we_", 24), "object": "webhook_endpoint", "api_version": p.get("api_version"),
            "application": None, "created": int(time.time()), "description": p.get("description"),
            "enabled_events": list(p["enabled_events"]), "livemode": False,
            "metadata": p.get("metadata") or {}, "status": "enabled", "url": p["url"],
            "_secret": "whsec_" + secrets.token_hex(16),
        }
        sync_localstripe(ep)
        ENDPOINTS[ep["id"]] = ep
        ENDPOINT_ORDER.append(ep["id"])
        return render_endpoint(ep, with_secret=True)


def get_endpoint(id_):
    ep = ENDPOINTS.get(id_)
    if ep is None:
        raise ApiError(404, "No such webhook endpoint: '%s'" % id_, "resource_missing", "id")
    return ep


def update_endpoint(id_, p):
    unknown(p, WEBHOOK_UPDATE_PARAMS)
    with LOCK:
        ep = get_endpoint(id_)
        if "enabled_events" in p:
            check_events(p["enabled_events"])
            ep["enabled_events"] = list(p["enabled_events"])
        if "url" in p:
            ep["url"] = p["url"]
        if "description" in p:
            ep["description"] = p["description"]
        if "metadata" in p:
            ep["metadata"].update(p["metadata"])
        if "disabled" in p:
            ep["status"] = "disabled" if str(p["disabled"]).lower() == "true" else "enabled"
        sync_localstripe(ep)
        return render_endpoint(ep)


def list_endpoints(q):
    unknown(q, {"limit", "starting_after", "ending_before", "expand"})
    limit = int(q.get("limit", 10))
    with LOCK:
        ids = ENDPOINT_ORDER[::-1]
        if q.get("starting_after") in ids:
            ids = ids[ids.index(q["starting_after"]) + 1:]
        page = ids[:limit]
        return {"object": "list", "url": "/v1/webhook_endpoints", "has_more": len(ids) > limit,
                "data": [render_endpoint(ENDPOINTS[i]) for i in page]}


def delete_endpoint(id_):
    with LOCK:
        ep = get_endpoint(id_)
        ep["status"] = "disabled"
        sync_localstripe(ep)  # localstripe cannot delete a webhook: deliver nothing instead
        del ENDPOINTS[id_]
        ENDPOINT_ORDER.remove(id_)
        return {"id": id_, "object": "webhook_endpoint", "deleted": True}


# ---------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        print("fake: " + fmt % args, flush=True)

    def _send(self, status, body, content_type="application/json"):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if content_type == "application/json":
            self.send_header("Request-Id", "req_" + secrets.token_hex(8))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode() if n else ""

    def _authorized(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            key = auth[7:]
        elif auth.startswith("Basic "):
            key = base64.b64decode(auth[6:]).decode().split(":")[0]
        else:
            key = ""
        return key.startswith("sk_") or key.startswith("rk_")

    def _route(self, method):
        url = urllib.parse.urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        raw = self._body()
        target = self.headers.get("X-Amz-Target", "")
        if method == "POST" and target:
            return self._aws(target, raw)
        if path.startswith("/_fake/"):
            return self._control(method, path, raw)
        with LOCK:
            REQUESTS.append({"method": method, "path": path, "query": url.query, "body": raw,
                             "stripe_version": self.headers.get("Stripe-Version")})
        if not self._authorized():
            raise ApiError(401, "You did not provide an API key.", type_="invalid_request_error")
        parts = path.strip("/").split("/")
        if parts[:3] == ["v2", "core", "event_destinations"]:
            try:
                params = json.loads(raw) if raw else {}
            except ValueError:
                raise ApiError(400, "Invalid JSON body")
            if method == "POST" and not (self.headers.get("Content-Type") or "").startswith("application/json") and raw:
                raise ApiError(400, "v2 requests take a JSON body (Content-Type: application/json)")
            q = {}
            for k, v in urllib.parse.parse_qsl(url.query):
                if k.endswith("[]") or k == "include":
                    q.setdefault(k.rstrip("[]"), []).append(v)
                else:
                    q[k] = v
            rest = parts[3:]
            if not rest:
                if method == "POST":
                    return 200, create_destination(params)
                if method == "GET":
                    return 200, list_destinations(q)
            elif len(rest) == 1:
                if method == "GET":
                    unknown(q, RETRIEVE_PARAMS)
                    with LOCK:
                        return 200, render(get_destination(rest[0]))
            elif len(rest) == 2 and method == "POST":
                unknown(params, set())
                if rest[1] == "ping":
                    return 200, ping(rest[0])
                if rest[1] in ("enable", "disable"):
                    return 200, set_enabled(rest[0], rest[1] == "enable")
            raise ApiError(404, "Unrecognized request URL (%s: %s)" % (method, path))
        if parts[:2] == ["v1", "webhook_endpoints"]:
            params = parse_form(raw if method == "POST" else url.query)
            if len(parts) == 2:
                if method == "POST":
                    return 200, create_endpoint(params)
                if method == "GET":
                    return 200, list_endpoints(params)
            elif len(parts) == 3:
                if method == "GET":
                    with LOCK:
                        return 200, render_endpoint(get_endpoint(parts[2]))
                if method == "POST":
                    return 200, update_endpoint(parts[2], params)
                if method == "DELETE":
                    return 200, delete_endpoint(parts[2])
        raise ApiError(404, "Unrecognized request URL (%s: %s)" % (method, path))

    def _aws(self, target, raw):
        body = json.loads(raw) if raw else {}
        if target == "AWSEvents.ListEventSources":
            return 200, list_event_sources(body), "application/x-amz-json-1.1"
        raise ApiError(400, "This fake serves only ListEventSources, not %s" % target,
                       type_="UnknownOperationException")

    def _control(self, method, path, raw):
        parts = path.strip("/").split("/")
        body = json.loads(raw) if raw else {}
        with LOCK:
            if method == "POST" and len(parts) == 3 and parts[1] == "accounts":
                ACCOUNTS[parts[2]] = {"source_delay_seconds": body.get("source_delay_seconds", DEFAULT_DELAY)}
                return 200, ACCOUNTS[parts[2]]
            if method == "POST" and len(parts) == 4 and parts[1] == "sources" and parts[3] == "expire":
                d = get_destination(parts[2])
                src = source_of(d)
                if src is None:
                    raise ApiError(409, "the source has not appeared yet")
                src["ExpirationTime"] = time.time() - 1
                return 200, {"expired": src["Name"]}
            if method == "GET" and parts[1:] == ["requests"]:
                return 200, REQUESTS
        raise ApiError(404, "unknown control route %s" % path)

    def _dispatch(self, method):
        try:
            out = self._route(method)
            status, body = out[0], out[1]
            ctype = out[2] if len(out) > 2 else "application/json"
            self._send(status, body, ctype)
        except ApiError as e:
            if self.headers.get("X-Amz-Target"):
                self._send(e.status, {"__type": e.type, "message": e.message}, "application/x-amz-json-1.1")
            else:
                self._send(e.status, e.body())
        except Exception as e:  # noqa: BLE001 - answer 500 rather than drop the connection
            self._send(500, {"error": {"type": "api_error", "message": "fake: %s" % e}})

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print("fake stripe admin + ListEventSources on http://%s:%d (source delay %ss)"
          % (args.host, args.port, DEFAULT_DELAY), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
