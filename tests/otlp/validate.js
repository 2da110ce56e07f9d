// validate.js -- osrca's OTLP output against the official OTLP definitions:
// the protobufjs code generated from opentelemetry-proto that
// @opentelemetry/otlp-transformer ships (build/src/generated/root.js).
//
//   node validate.js [--json FILE.jsonl]... [--pb FILE.bin]... [--same]
//
// --json: every line an ExportTraceServiceRequest in OTLP/JSON (the file
//   format): hex ids turned into bytes as the OTLP/JSON rules say, the
//   object read by the generated fromObject, encoded, decoded, and written
//   back; it must come back equal (an unknown field, a wrong type, an enum
//   by name, an int64 as a JSON number would not).
// --pb: a body POSTed as application/x-protobuf: decoded by the generated
//   decoder (it must consume every byte), verify() clean.
// Both: structure checks on every span (16-byte trace ids, 8-byte span ids,
//   a known kind, end >= start, a parent that exists in its trace, a link
//   to a span of the trace, no span id twice in a trace, a span without
//   parent only as an operation's INTERNAL root with its verdict,
//   service.name on every resource).
// --same: the spans of all --json inputs equal the spans of all --pb ones
//   (the two encodings carry the same traces).
'use strict';
const path = require('path');
const fs = require('fs');
const NODE = path.resolve(process.env.OTLP_NODE || __dirname);
const root = require(path.join(NODE,
  'node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js'));
const Req = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

let fails = 0;
function fail(where, msg) {
  fails++;
  if (fails <= 20) console.log(`FAIL ${where}: ${msg}`);
}

const ID_KEYS = new Set(['traceId', 'spanId', 'parentSpanId']);

// OTLP/JSON -> the object fromObject takes: ids hex -> bytes
function idsToBytes(v, key) {
  if (Array.isArray(v)) return v.map((x) => idsToBytes(x));
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v)) o[k] = idsToBytes(v[k], k);
    return o;
  }
  if (ID_KEYS.has(key) && typeof v === 'string') {
    if (!/^([0-9a-f]{2})*$/.test(v)) throw new Error(`${key} '${v}' is not lower-case hex`);
    return Buffer.from(v, 'hex');
  }
  return v;
}

// a decoded message -> OTLP/JSON form, defaults dropped (so that an
// explicit 0 and an absent field compare equal)
function canon(v, key) {
  if (v instanceof Uint8Array) return ID_KEYS.has(key) ? Buffer.from(v).toString('hex') : Buffer.from(v).toString('base64');
  if (Array.isArray(v) && ID_KEYS.has(key)) return v.length ? Buffer.from(v).toString('hex') : undefined;
  if (Array.isArray(v)) {
    const a = v.map((x) => canon(x));
    return a.length ? a : undefined;
  }
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) {
      const c = canon(v[k], k);
      if (c !== undefined) o[k] = c;
    }
    return Object.keys(o).length ? o : undefined;
  }
  if (v === 0 || v === '0' || v === false || (v === '' && key !== 'stringValue')) return undefined;
  return v;
}

const plain = canon; // the JSON as read: ids are hex strings there already

function diff(a, b, at) {
  if (typeof a !== typeof b) return `${at}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  if (a && typeof a === 'object') {
    const ks = new Set([...Object.keys(a), ...Object.keys(b || {})]);
    for (const k of ks) {
      const d = diff(a[k], (b || {})[k], `${at}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : `${at}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
}

const KINDS = new Set([1, 2, 3, 4, 5]);

// structure of a decoded request; spans collected into out (by id)
function checkStructure(msg, where, out) {
  const obj = Req.toObject(msg, { longs: String, enums: Number, bytes: Array });
  const byTrace = new Map();
  let n = 0;
  for (const rs of obj.resourceSpans || []) {
    const attrs = new Map((rs.resource && rs.resource.attributes || []).map((a) => [a.key, a.value]));
    if (!attrs.has('service.name') || !attrs.get('service.name').stringValue)
      fail(where, 'a resource without service.name');
    for (const ss of rs.scopeSpans || []) {
      for (const sp of ss.spans || []) {
        n++;
        const tid = Buffer.from(sp.traceId || []).toString('hex');
        const sid = Buffer.from(sp.spanId || []).toString('hex');
        if (tid.length !== 32 || /^0+$/.test(tid)) fail(where, `trace id '${tid}'`);
        if (sid.length !== 16 || /^0+$/.test(sid)) fail(where, `span id '${sid}'`);
        if (!KINDS.has(sp.kind)) fail(where, `span ${sid} kind ${sp.kind}`);
        if (BigInt(sp.endTimeUnixNano || 0) < BigInt(sp.startTimeUnixNano || 0) || BigInt(sp.startTimeUnixNano || 0) === 0n)
          fail(where, `span ${sid} times ${sp.startTimeUnixNano}..${sp.endTimeUnixNano}`);
        if (!sp.name) fail(where, `span ${sid} has no name`);
        if (!byTrace.has(tid)) byTrace.set(tid, new Map());
        if (byTrace.get(tid).has(sid)) fail(where, `span id ${sid} twice in trace ${tid}`);
        byTrace.get(tid).set(sid, sp);
        if (out) out.set(`${tid}/${sid}`, canon(sp));
      }
    }
  }
  for (const [tid, spans] of byTrace) {
    let roots = 0;
    for (const [sid, sp] of spans) {
      const pid = sp.parentSpanId && sp.parentSpanId.length ? Buffer.from(sp.parentSpanId).toString('hex') : null;
      if (!pid) {
        roots++; // an operation's root: INTERNAL, with osrca's verdict
        if (sp.kind !== 1 || !(sp.attributes || []).some((a) => a.key === 'osrca.verdict'))
          fail(where, `span ${sid} has no parent and is not an operation's root`);
      } else if (!spans.has(pid)) fail(where, `span ${sid}: parent ${pid} not in trace ${tid}`);
      for (const l of sp.links || [])
        if (!spans.has(Buffer.from(l.spanId).toString('hex'))) fail(where, `span ${sid}: link to a span not in the trace`);
    }
    if (roots < 1) fail(where, `trace ${tid}: no root span`);
  }
  return { spans: n, traces: byTrace.size };
}

const args = process.argv.slice(2);
const jsonFiles = [], pbFiles = [];
let same = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--json') jsonFiles.push(args[++i]);
  else if (args[i] === '--pb') pbFiles.push(args[++i]);
  else if (args[i] === '--same') same = true;
  else { console.error(`validate.js: unknown argument ${args[i]}`); process.exit(2); }
}

const fromJson = new Map(), fromPb = new Map();
let nj = 0, npb = 0, lines = 0;
for (const f of jsonFiles) {
  const text = fs.readFileSync(f, 'utf8');
  text.split('\n').forEach((line, k) => {
    if (!line) return;
    lines++;
    const where = `${path.basename(f)}:${k + 1}`;
    let obj;
    try { obj = JSON.parse(line); } catch (e) { fail(where, `not JSON: ${e.message}`); return; }
    let msg;
    try {
      msg = Req.fromObject(idsToBytes(obj));
    } catch (e) { fail(where, `fromObject: ${e.message}`); return; }
    const err = Req.verify(msg);
    if (err) fail(where, `verify: ${err}`);
    const back = Req.decode(Req.encode(msg).finish());
    const backHex = canon(Req.toObject(back, { longs: String, enums: Number, bytes: Array }));
    const d2 = diff(plain(obj), backHex, 'request');
    if (d2) fail(where, `does not survive the official definitions: ${d2}`);
    nj += checkStructure(back, where, fromJson).spans;
  });
}
for (const f of pbFiles) {
  const where = path.basename(f);
  const buf = fs.readFileSync(f);
  let msg;
  try {
    const r = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
    const reader = require(path.join(NODE, 'node_modules/protobufjs/minimal')).Reader.create(buf);
    msg = r.decode(reader);
    if (reader.pos !== buf.length) fail(where, `decoder stopped at byte ${reader.pos} of ${buf.length}`);
  } catch (e) { fail(where, `decode: ${e.message}`); continue; }
  const err = Req.verify(msg);
  if (err) fail(where, `verify: ${err}`);
  npb += checkStructure(msg, where, fromPb).spans;
}
if (same) {
  if (fromJson.size !== fromPb.size) fail('same', `${fromJson.size} spans in JSON, ${fromPb.size} in protobuf`);
  for (const [k, v] of fromJson) {
    const d = diff(v, fromPb.get(k), k);
    if (d) { fail('same', d); break; }
  }
}
console.log(`otlp validate: ${lines} JSON requests (${nj} spans), ${pbFiles.length} protobuf bodies (${npb} spans)` +
  (same ? `, the same ${fromJson.size} spans in both` : '') + `: ${fails ? fails + ' failures' : 'ok'}`);
process.exit(fails ? 1 : 0);
