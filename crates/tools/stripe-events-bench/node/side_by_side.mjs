// The Node.js 20 comparison for the 10 KB snapshot: the handler a Node.js Lambda would run
// for the same work as `Consumer::answer` (examples/interleaved.rs), timed per fresh payload.
//
//   node side_by_side.mjs TEMPLATE.json [ROUNDS]            # times ROUNDS rounds, prints medians
//   node side_by_side.mjs TEMPLATE.json [ROUNDS] --serve    # one round per stdin line (interleaved.rs)
//
// TEMPLATE.json holds the payload's exact bytes (`interleaved N --template-out PATH` writes
// them, in the key order EventBridge sends). Each round makes it a new event the way the Rust
// bench does (`x<n>` appended to the Stripe id, `created` n seconds later), then times
// `JSON.parse` alone and the whole handler on that string: parse, source and shape checks,
// dedupe, the subscription projection, DynamoDB attribute values (what `marshall` of
// @aws-sdk/util-dynamodb builds), the dedupe record and the version-guarded write to an
// in-memory table. No dependencies, no await: Node gets the benefit of the doubt (its real
// handler would also pay the runtime's async hops). The first ROUNDS/8 rounds warm the JIT
// and are not counted.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const PARTNER_PREFIX = 'aws.partner/stripe.com/';
const WEBHOOK_SOURCE = 'stripe.webhook';
const DEDUPE_TTL_SECONDS = 90 * 24 * 3600;

const seen = new Map(); // dedupe key -> dedupe record (attribute values)
const table = new Map(); // pk|sk -> state item (attribute values)

// @aws-sdk/util-dynamodb's `marshall` for the shapes a projection holds.
function av(v) {
  if (v === null || v === undefined) return { NULL: true };
  switch (typeof v) {
    case 'string':
      return { S: v };
    case 'number':
      return { N: String(v) };
    case 'boolean':
      return { BOOL: v };
    default:
      if (Array.isArray(v)) return { L: v.map(av) };
      const m = {};
      for (const k of Object.keys(v)) m[k] = av(v[k]);
      return { M: m };
  }
}

const idOf = (field) => (field && typeof field === 'object' ? field.id : field) ?? null;

function projectSubscription(o) {
  if (typeof o.customer !== 'string' && !(o.customer && o.customer.id)) {
    throw new Error('subscription without customer');
  }
  const customer = idOf(o.customer);
  const items = (o.items && o.items.data) || [];
  let start = o.current_period_start ?? null;
  let end = o.current_period_end ?? null;
  const rows = items.map((it) => {
    if (start === null || (it.current_period_start ?? Infinity) < start) {
      start = it.current_period_start ?? start;
    }
    if (end === null || (it.current_period_end ?? -Infinity) > end) {
      end = it.current_period_end ?? end;
    }
    const priced = it.price || it.plan;
    return {
      id: it.id,
      plan_id: it.plan ? it.plan.id : null,
      price_id: it.price ? it.price.id : null,
      product_id: priced ? idOf(priced.product) : null,
      quantity: it.quantity ?? null,
    };
  });
  const pause = o.pause_collection;
  return {
    pk: `CUSTOMER#${customer}`,
    sk: `SUBSCRIPTION#${o.id}`,
    fields: {
      object_type: 'subscription',
      object_id: o.id,
      customer_id: customer,
      status: o.status ?? null,
      items: rows,
      plan_id: o.plan ? o.plan.id : null,
      current_period_start: start,
      current_period_end: end,
      trial_start: o.trial_start ?? null,
      trial_end: o.trial_end ?? null,
      cancel_at: o.cancel_at ?? null,
      cancel_at_period_end: o.cancel_at_period_end ?? false,
      canceled_at: o.canceled_at ?? null,
      ended_at: o.ended_at ?? null,
      pause_behavior: pause ? pause.behavior ?? null : null,
      pause_resumes_at: pause ? pause.resumes_at ?? null : null,
      latest_invoice: idOf(o.latest_invoice),
      schedule_id: idOf(o.schedule),
      metadata: o.metadata ?? {},
    },
  };
}

function handler(body) {
  const event = JSON.parse(body);
  const source = event.source;
  let path;
  if (source === WEBHOOK_SOURCE) path = 'webhook';
  else if (typeof source === 'string' && source.startsWith(PARTNER_PREFIX)) path = 'partner';
  else return { outcome: 'failed_permanent', reason: 'unknown source' };
  const ev = event.detail;
  if (!ev || typeof ev.id !== 'string' || typeof ev.type !== 'string') {
    return { outcome: 'failed_permanent', reason: 'not a Stripe event' };
  }
  const o = ev.data && ev.data.object;
  if (!o || o.object !== 'subscription' || !ev.type.startsWith('customer.subscription.')) {
    return { outcome: 'failed_permanent', reason: 'object is not the one the event names' };
  }
  const now = Date.now();
  const record = seen.get(ev.id);
  if (record && record.outcome) {
    record.deliveries.N = String(Number(record.deliveries.N) + 1);
    record.last_seen = { N: String(now) };
    return { outcome: 'duplicate' };
  }
  const write = projectSubscription(o);
  const version = ev.created * 1000;
  const key = `${write.pk}|${write.sk}`;
  const current = table.get(key);
  let outcome = 'applied';
  if (current && Number(current.version.N) >= version) {
    outcome = 'stale';
  } else {
    const item = av(write.fields).M;
    item.pk = { S: write.pk };
    item.sk = { S: write.sk };
    item.version = { N: String(version) };
    item.version_tiebreak = { S: '' };
    item.last_event_id = { S: ev.id };
    item.last_event_type = { S: ev.type };
    item.updated_at = { N: String(now) };
    table.set(key, item);
  }
  seen.set(ev.id, {
    pk: { S: ev.id },
    consumer: { S: 'subscription' },
    event_type: { S: ev.type },
    object_id: { S: o.id },
    event_created: { N: String(version) },
    first_seen: { N: String(now) },
    last_seen: { N: String(now) },
    expires_at: { N: String(Math.floor(now / 1000) + DEDUPE_TTL_SECONDS) },
    [`seen_${path}`]: { N: String(now) },
    [`deliveries_${path}`]: { N: '1' },
    deliveries: { N: '1' },
    event_ids: { SS: [ev.id] },
    applied_at: { N: String(now) },
    outcome: { S: outcome },
  });
  return { outcome };
}

function median(samples) {
  const s = Float64Array.from(samples).sort();
  return s[Math.ceil(s.length / 2) - 1];
}

const args = process.argv.slice(2);
const serve = args.includes('--serve');
const [templatePath, roundsArg] = args.filter((a) => a !== '--serve');
if (!templatePath) {
  console.error('usage: node side_by_side.mjs TEMPLATE.json [ROUNDS] [--serve]');
  process.exit(2);
}
const template = readFileSync(templatePath, 'utf8');

// One round: round `i`'s fresh payload, then JSON.parse alone and the handler, each timed (µs).
function round(i) {
  const v = JSON.parse(template);
  v.detail.id += `x${i}`;
  v.detail.created += i;
  const body = JSON.stringify(v);
  let t = process.hrtime.bigint();
  const parsed = JSON.parse(body);
  const parseNs = Number(process.hrtime.bigint() - t);
  t = process.hrtime.bigint();
  const answer = handler(body);
  const handlerNs = Number(process.hrtime.bigint() - t);
  if (answer.outcome !== 'applied' || parsed.detail.id !== v.detail.id) {
    console.error(`round ${i}: ${JSON.stringify(answer)}`);
    process.exit(1);
  }
  return [parseNs / 1000, handlerNs / 1000];
}

const rounds = Number(roundsArg ?? 8000);
const warmup = Math.floor(rounds / 8);
for (let i = 1; i <= warmup; i++) round(i);

if (serve) {
  // examples/interleaved.rs drives the rounds: a line per round in, `parse handler` out, so
  // the two languages are timed within microseconds of each other on a noisy machine.
  const lines = createInterface({ input: process.stdin });
  let i = warmup;
  lines.on('line', () => {
    i += 1;
    const [p, h] = round(i);
    process.stdout.write(`${p} ${h}\n`);
  });
} else {
  const parseTimes = [];
  const handlerTimes = [];
  for (let i = warmup + 1; i <= warmup + rounds; i++) {
    const [p, h] = round(i);
    parseTimes.push(p);
    handlerTimes.push(h);
  }
  console.log(
    `node ${process.version} median µs: JSON.parse ${median(parseTimes).toFixed(2)}  handler ${median(
      handlerTimes,
    ).toFixed(2)}  (${Buffer.byteLength(template)}-byte template, ${rounds} rounds after ${warmup} warm-up)`,
  );
}
