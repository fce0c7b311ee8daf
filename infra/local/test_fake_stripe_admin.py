"""Holds fake_stripe_admin.py to Stripe's shapes with the official Stripe Python SDK (16.1.0,
pinned in the venv): what the SDK sends, the fake accepts; what the fake answers, the SDK
reads with every field the CLI uses; parameters the API reference does not list are refused.
Also drives ListEventSources with boto3 and the webhook-endpoint mapping onto localstripe.

Run under the local stack (the CLI's tests do: crates/tools/stripe-events-cli/tests/):
  infra/local/stack.sh run -- .venv/bin/python infra/local/test_fake_stripe_admin.py
"""

import json
import os
import time
import unittest
import urllib.request

import boto3
import stripe

BASE = os.environ.get("STRIPE_ADMIN_API_BASE", "")
SOURCES = os.environ.get("EVENT_SOURCES_ENDPOINT_URL", "")
KEY = os.environ.get("STRIPE_API_KEY", "sk_test_fake")
ACCOUNT = "123456789012"


def control(path, body):
    req = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=5).read())


def requests_seen():
    return json.loads(urllib.request.urlopen(BASE + "/_fake/requests", timeout=5).read())


class FakeStripeV2(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BASE:
            raise unittest.SkipTest("STRIPE_ADMIN_API_BASE is not set: run under infra/local/stack.sh")
        cls.client = stripe.StripeClient(KEY, base_addresses={"api": BASE})
        control("/_fake/accounts/" + ACCOUNT, {"source_delay_seconds": 0.2})

    def create(self, payload="snapshot", **extra):
        params = {
            "name": "sdk-test-%s-%d" % (payload, time.time_ns()),
            "description": "SDK contract test",
            "type": "amazon_eventbridge",
            "event_payload": payload,
            "enabled_events": ["invoice.paid"] if payload == "snapshot" else ["v1.invoice.paid"],
            "amazon_eventbridge": {"aws_account_id": ACCOUNT, "aws_region": "us-east-2"},
            "metadata": {"managed_by": "stripe-events", "deployment": "sdk-test"},
        }
        if payload == "snapshot":
            params["snapshot_api_version"] = "2025-09-30.clover"
        params.update(extra)
        return self.client.v2.core.event_destinations.create(params=params)

    def test_create_retrieve_list_read_every_field_the_cli_uses(self):
        d = self.create()
        self.assertTrue(d.id.startswith("ed_test_"))
        self.assertEqual(d.object, "v2.core.event_destination")
        self.assertEqual(d.type, "amazon_eventbridge")
        self.assertEqual(d.event_payload, "snapshot")
        self.assertEqual(d.snapshot_api_version, "2025-09-30.clover")
        self.assertEqual(d.enabled_events, ["invoice.paid"])
        self.assertEqual(d.status, "enabled")
        self.assertEqual(d.metadata["deployment"], "sdk-test")
        self.assertEqual(d.amazon_eventbridge.aws_account_id, ACCOUNT)
        # What the SDK sent: a JSON body with exactly the reference's fields.
        sent = [r for r in requests_seen() if r["method"] == "POST" and r["path"] == "/v2/core/event_destinations"][-1]
        body = json.loads(sent["body"])
        self.assertEqual(body["amazon_eventbridge"], {"aws_account_id": ACCOUNT, "aws_region": "us-east-2"})
        self.assertIsNotNone(sent["stripe_version"], "the SDK pins a Stripe-Version")
        time.sleep(0.4)
        got = self.client.v2.core.event_destinations.retrieve(d.id)
        self.assertEqual(got.id, d.id)
        self.assertEqual(got.amazon_eventbridge.aws_event_source_arn,
                         "arn:aws:events:us-east-2::event-source/aws.partner/stripe.com/" + d.id)
        self.assertEqual(got.amazon_eventbridge.aws_event_source_status, "pending")
        self.assertIsNone(got.status_details)
        self.create("thin")
        page = self.client.v2.core.event_destinations.list(params={"limit": 1})
        self.assertEqual(len(page.data), 1)
        self.assertIsNotNone(page.next_page_url)
        ids = [x.id for x in self.client.v2.core.event_destinations.list(params={"limit": 2}).auto_paging_iter()]
        self.assertIn(d.id, ids)
        self.assertEqual(len(ids), len(set(ids)), "pages do not repeat")

    def test_thin_destination_takes_v1_types_and_no_snapshot_version(self):
        d = self.create("thin")
        self.assertEqual(d.event_payload, "thin")
        self.assertIsNone(d.snapshot_api_version)
        with self.assertRaises(stripe.InvalidRequestError):
            self.create("thin", snapshot_api_version="2025-09-30.clover")

    def test_unknown_and_missing_parameters_are_refused(self):
        with self.assertRaises(stripe.InvalidRequestError) as e:
            self.create(colour="blue")
        self.assertEqual(e.exception.code, "parameter_unknown")
        with self.assertRaises(stripe.InvalidRequestError) as e:
            self.create(amazon_eventbridge={"aws_account_id": ACCOUNT, "aws_region": "us-east-2", "bus": "x"})
        self.assertEqual(e.exception.code, "parameter_unknown")
        with self.assertRaises(stripe.InvalidRequestError) as e:
            self.create(amazon_eventbridge={"aws_account_id": ACCOUNT})
        self.assertEqual(e.exception.code, "parameter_missing")
        with self.assertRaises(stripe.InvalidRequestError):
            self.client.v2.core.event_destinations.retrieve("ed_test_nope")

    def test_ping_returns_a_v2_event_about_the_destination(self):
        d = self.create()
        ev = self.client.v2.core.event_destinations.ping(d.id)
        self.assertTrue(ev.id.startswith("evt_"))
        self.assertEqual(ev.type, "v2.core.event_destination.ping")
        self.assertEqual(ev.related_object.id, d.id)

    def test_disable_sets_status_details_and_enable_clears_it(self):
        d = self.create()
        off = self.client.v2.core.event_destinations.disable(d.id)
        self.assertEqual(off.status, "disabled")
        self.assertEqual(off.status_details.disabled.reason, "user")
        on = self.client.v2.core.event_destinations.enable(d.id)
        self.assertEqual(on.status, "enabled")

    def test_list_event_sources_with_boto3_and_expiry_disables_the_destination(self):
        d = self.create()
        time.sleep(0.4)
        eb = boto3.client("events", endpoint_url=SOURCES, region_name="us-east-2")
        name = "aws.partner/stripe.com/" + d.id
        srcs = {s["Name"]: s for s in eb.list_event_sources(NamePrefix="aws.partner/stripe.com/ed_")["EventSources"]}
        self.assertIn(name, srcs)
        self.assertEqual(srcs[name]["State"], "PENDING")
        days = (srcs[name]["ExpirationTime"] - srcs[name]["CreationTime"]).days
        self.assertEqual(days, 7)
        control("/_fake/sources/%s/expire" % d.id, {})
        got = self.client.v2.core.event_destinations.retrieve(d.id)
        self.assertEqual(got.status, "disabled")
        self.assertEqual(got.status_details.disabled.reason, "no_aws_event_source_exists")
        self.assertEqual(got.amazon_eventbridge.aws_event_source_status, "deleted")

    def test_source_that_never_appears(self):
        control("/_fake/accounts/210987654321", {"source_delay_seconds": None})
        d = self.create(amazon_eventbridge={"aws_account_id": "210987654321", "aws_region": "us-east-2"})
        time.sleep(0.3)
        got = self.client.v2.core.event_destinations.retrieve(d.id)
        self.assertEqual(got.amazon_eventbridge.aws_event_source_status, "unknown")
        self.assertNotIn("aws_event_source_arn", got.amazon_eventbridge)


class FakeWebhookEndpoints(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BASE:
            raise unittest.SkipTest("STRIPE_ADMIN_API_BASE is not set: run under infra/local/stack.sh")
        cls.client = stripe.StripeClient(KEY, base_addresses={"api": BASE})

    def test_create_update_list_with_the_sdk(self):
        we = self.client.v1.webhook_endpoints.create(params={
            "url": "http://127.0.0.1:9/hook", "enabled_events": ["invoice.paid", "customer.created"]})
        self.assertTrue(we.id.startswith("we_"))
        self.assertTrue(we.secret.startswith("whsec_"))
        up = self.client.v1.webhook_endpoints.update(we.id, params={"enabled_events": ["invoice.paid"]})
        self.assertEqual(up.enabled_events, ["invoice.paid"])
        sent = [r for r in requests_seen() if r["path"] == "/v1/webhook_endpoints/" + we.id][-1]
        self.assertIn("enabled_events[0]=invoice.paid", sent["body"])
        urls = [w.url for w in self.client.v1.webhook_endpoints.list().auto_paging_iter()]
        self.assertIn("http://127.0.0.1:9/hook", urls)
        with self.assertRaises(stripe.InvalidRequestError):
            self.client.v1.webhook_endpoints.update(we.id, params={"colour": "blue"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
