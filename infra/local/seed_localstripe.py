"""Create a customer, plan and subscription in localstripe, and write thin events that
reference them (both thin shapes), for the demo and the CLI tests.

Usage: seed_localstripe.py OUT_DIR [USER_ID]
Env:   STRIPE_API_BASE, STRIPE_API_KEY (set by infra/local/stack.sh)
Prints one JSON object: the ids created and the event files written.
Standard library only.
"""

import base64
import json
import os
import sys
import time
import urllib.parse
import urllib.request
import uuid

BASE = os.environ["STRIPE_API_BASE"].rstrip("/")
KEY = os.environ["STRIPE_API_KEY"]
AUTH = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()


def call(method, path, **form):
    data = urllib.parse.urlencode(form).encode() if form else None
    req = urllib.request.Request(BASE + path, data=data, method=method, headers={"Authorization": AUTH})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def partner_envelope(detail, detail_type):
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.partner/stripe.com/ed_test_61DemoThinDestination0000000000000",
        "account": "313476888312",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": "us-east-2",
        "resources": [],
        "detail": detail,
    }


def thin_v2(event_type, obj_type, obj_id, url):
    now = time.time()
    return {
        "id": "evt_test_65" + uuid.uuid4().hex[:24],
        "object": "v2.core.event",
        "type": "v1." + event_type,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".000Z",
        "livemode": False,
        "context": None,
        "related_object": {"id": obj_id, "type": obj_type, "url": url},
    }


def thin_reference(event_type, obj_type, obj_id):
    return {
        "id": "evt_" + uuid.uuid4().hex[:24],
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": {"id": obj_id, "object": obj_type}},
    }


def main():
    out_dir = sys.argv[1]
    user_id = sys.argv[2] if len(sys.argv) > 2 else "user_demo_1"
    os.makedirs(out_dir, exist_ok=True)
    plan_id = "pro-monthly-" + uuid.uuid4().hex[:6]
    customer = call("POST", "/v1/customers", email="ada@example.com", name="Ada Lovelace", **{"metadata[user_id]": user_id})
    call("POST", "/v1/plans", id=plan_id, amount=1500, currency="usd", interval="month", **{"product[name]": "Pro"})
    token = call("POST", "/v1/tokens", **{"card[number]": "4242424242424242", "card[exp_month]": "12",
                                         "card[exp_year]": "2030", "card[cvc]": "123"})
    call("POST", f"/v1/customers/{customer['id']}/sources", source=token["id"])
    sub = call("POST", "/v1/subscriptions", customer=customer["id"], **{"items[0][plan]": plan_id})
    invoice_id = sub.get("latest_invoice")
    events = {
        "thin-v2-subscription-created.json": partner_envelope(
            thin_v2("customer.subscription.created", "subscription", sub["id"], f"/v1/subscriptions/{sub['id']}"),
            "v1.customer.subscription.created"),
        "thin-note-customer-updated.json": partner_envelope(
            thin_reference("customer.updated", "customer", customer["id"]), "customer.updated"),
    }
    if invoice_id:
        events["thin-v2-invoice-paid.json"] = partner_envelope(
            thin_v2("invoice.paid", "invoice", invoice_id, f"/v1/invoices/{invoice_id}"), "v1.invoice.paid")
    for name, event in events.items():
        with open(os.path.join(out_dir, name), "w") as f:
            json.dump(event, f, indent=2)
    print(json.dumps({"customer": customer["id"], "subscription": sub["id"], "subscription_status": sub["status"],
                      "invoice": invoice_id, "plan": plan_id, "user_id": user_id,
                      "events": sorted(events)}))


if __name__ == "__main__":
    main()
