"""The local stand-in for the `terraform apply` steps of the partner setup, against moto:
what Terraform creates on the AWS side (infra/eventbridge.tf, infra/monitoring.tf), with the
same names, so `stripe-events setup status` and `stripe-events ping` see real moto state.

  apply_partner_local.py PREFIX webhook [--rules enabled|disabled]
      the custom bus PREFIX-stripe-event-bus and its three family rules
  apply_partner_local.py PREFIX partner SOURCE_NAME... [--rules enabled|disabled|none]
                         [--log-group /aws/events/stripe-billing]
      per source: the partner bus (= associating the source), the partner monitoring rule to
      the log group (created if missing) and the three partner family rules

moto quirk (NOTES.md): moto resolves a bus name containing '/' to its last segment when it
looks up rules, so a plain bus named `ed_…` is created next to each partner bus; rules put on
`aws.partner/stripe.com/ed_…` then work (PutRule, DescribeRule, PutTargets, PutEvents).
"""

import argparse
import json
import os

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = os.path.join(HERE, "..", "rules")
FAMILIES = ("subscription", "payment", "customer")


def pattern(source_file, family):
    with open(os.path.join(RULES, source_file)) as f:
        p = json.load(f)
    with open(os.path.join(RULES, family + ".json")) as f:
        p.update(json.load(f))
    return json.dumps(p)


def ensure_bus(eb, name, source=None):
    try:
        eb.describe_event_bus(Name=name)
    except eb.exceptions.ResourceNotFoundException:
        if source:
            eb.create_event_bus(Name=name, EventSourceName=source)
        else:
            eb.create_event_bus(Name=name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("prefix")
    ap.add_argument("what", choices=["webhook", "partner"])
    ap.add_argument("sources", nargs="*")
    ap.add_argument("--rules", choices=["enabled", "disabled", "none"], default="enabled")
    ap.add_argument("--log-group", default="/aws/events/stripe-billing")
    a = ap.parse_args()
    eb = boto3.client("events")
    state = "ENABLED" if a.rules == "enabled" else "DISABLED"
    if a.what == "webhook":
        bus = a.prefix + "-stripe-event-bus"
        ensure_bus(eb, bus)
        for f in FAMILIES:
            eb.put_rule(Name="%s-stripe-%s_events-rule" % (a.prefix, f), EventBusName=bus,
                        EventPattern=pattern("source-webhook.json", f), State=state)
        print(json.dumps({"bus": bus, "rules": state}))
        return
    logs = boto3.client("logs")
    try:
        logs.create_log_group(logGroupName=a.log_group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    region = eb.meta.region_name
    account = boto3.client("sts").get_caller_identity()["Account"]
    group_arn = "arn:aws:logs:%s:%s:log-group:%s" % (region, account, a.log_group)
    for src in a.sources:
        ensure_bus(eb, src, src)             # associating = a bus named after the source
        ensure_bus(eb, src.split("/")[-1])   # the moto twin (see above)
        mon = "%s-stripe-partner_all_events-monitoring-rule" % a.prefix
        eb.put_rule(Name=mon, EventBusName=src, State="ENABLED",
                    EventPattern=json.dumps({"source": [{"prefix": "aws.partner/stripe.com/"}]}))
        eb.put_targets(Rule=mon, EventBusName=src, Targets=[{"Id": "log-group", "Arn": group_arn}])
        if a.rules != "none":
            for f in FAMILIES:
                eb.put_rule(Name="%s-stripe-partner_%s_events-rule" % (a.prefix, f), EventBusName=src,
                            EventPattern=pattern("source-partner.json", f), State=state)
    print(json.dumps({"partner_buses": a.sources, "rules": a.rules, "log_group": a.log_group}))


if __name__ == "__main__":
    main()
