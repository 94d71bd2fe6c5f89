#!/usr/bin/env python3
"""Read Confluent-framed Avro records back with confluent-kafka's AvroDeserializer.

For checking Avro that someone else wrote (eddy's sinks, produce.py): each
record's value is decoded with its writer's schema, fetched from the registry
by the id in its frame, and printed as one JSON line on stdout:

  {"partition":0,"offset":5,"schema_id":1,"key":"1017","value":{...}}

--reader-latest decodes with the subject's latest version as the reader
schema instead (Avro schema resolution: fields added since get their
defaults, removed ones are dropped), which is how a consumer upgraded to the
newest schema sees an evolved topic. Times (timestamp-millis and the like)
print as RFC 3339, bytes and decimals as strings.

Reads from the beginning until --count records were read or nothing arrived
for --idle seconds; exits 1 when fewer than --expect records were read or a
record did not decode.
"""

import argparse
import base64
import datetime
import decimal
import json
import signal
import struct
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def plain(v):
    if isinstance(v, datetime.datetime):
        spec = "milliseconds" if v.microsecond % 1000 == 0 else "microseconds"
        return v.isoformat(timespec=spec).replace("+00:00", "Z")
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, (decimal.Decimal, uuid.UUID)):
        return str(v)
    if isinstance(v, bytes):
        return base64.b64encode(v).decode("ascii")
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--registry", required=True, help="Confluent-compatible base URL")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--count", type=int, default=0, help="stop after this many records (0: until idle)")
    ap.add_argument("--expect", type=int, default=0, help="fail unless at least this many were read")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds without a record that end the read")
    ap.add_argument("--reader-latest", action="store_true",
                    help="decode with the subject's latest schema as the reader schema")
    ap.add_argument("--quiet", action="store_true", help="print only the summary")
    args = ap.parse_args()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the read quietly

    sr = SchemaRegistryClient({"url": args.registry})
    reader = None
    if args.reader_latest:
        reader = sr.get_latest_version(args.topic + "-value").schema.schema_str
    deser = AvroDeserializer(sr, schema_str=reader)

    consumer = Consumer({"bootstrap.servers": args.brokers, "group.id": "eddy-registry-consume",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    md = consumer.list_topics(args.topic, timeout=10).topics.get(args.topic)
    if md is None or md.error is not None or not md.partitions:
        sys.exit("consume.py: topic %s not found" % args.topic)
    consumer.assign([TopicPartition(args.topic, p, 0) for p in md.partitions])

    n, bad, ids = 0, 0, {}
    last = time.monotonic()
    ctx = SerializationContext(args.topic, MessageField.VALUE)
    try:
        while (args.count == 0 or n < args.count) and time.monotonic() - last < args.idle:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            last = time.monotonic()
            raw = msg.value() or b""
            sid = struct.unpack(">I", raw[1:5])[0] if len(raw) >= 5 and raw[0] == 0 else None
            try:
                value = deser(raw, ctx)
            except Exception as e:  # report and count every undecodable record
                bad += 1
                print("consume.py: p%d o%d: %s" % (msg.partition(), msg.offset(), e), file=sys.stderr)
                continue
            n += 1
            ids[sid] = ids.get(sid, 0) + 1
            if not args.quiet:
                key = msg.key().decode("utf-8", "replace") if msg.key() is not None else None
                print(json.dumps({"partition": msg.partition(), "offset": msg.offset(), "schema_id": sid,
                                  "key": key, "value": plain(value)}, separators=(",", ":")))
    finally:
        consumer.close()
    print("consume.py: %s: %d records decoded, %d failed, by schema id %s"
          % (args.topic, n, bad, json.dumps(ids)), file=sys.stderr)
    if bad or n < args.expect:
        sys.exit(1)


if __name__ == "__main__":
    main()
