#!/usr/bin/env python3
"""Produce nexmark-like bids as Confluent-framed Avro, Protobuf and JSON Schema.

An independent client for eddy's integration tests: Confluent's own Python
serializers (confluent-kafka's AvroSerializer, ProtobufSerializer and
JSONSerializer) register the schemas in a Schema Registry (subjects by the
topic-name strategy, TOPIC-value) and write the records to a real broker.

Topics (PREFIX defaults to "bids"):
  PREFIX-avro         Avro, one schema version
  PREFIX-protobuf     Protobuf (dateTime a google.protobuf.Timestamp)
  PREFIX-protobuf-text  the same Protobuf, its schema registered as .proto text
                      (as Java clients do, and as a Confluent registry returns
                      it); framed here (magic byte, id, index 0), since the
                      Python serializer takes a registered schema only as a
                      base64 descriptor, which Apicurio does not make of text
  PREFIX-jsonschema   JSON Schema
  PREFIX-avro-evolve  Avro with the subject set to BACKWARD compatibility:
                      the first third written with v1, the second third with
                      v2 (adds "currency" with default "USD"), the last third
                      with v3 (drops "extra"); the registry checks each step.

Every topic gets the same records in the same order, keyed by auction.
--input reads the records from JSON lines as `eddy gen nexmark --only bids`
writes them (so the same data can go through eddy as JSON); without it,
--count records are made up here. --jsonl writes the records produced, in
that JSON form, for comparing with what eddy reads back.

Run with the venv that scripts/registry.sh makes:
  scripts/registry.sh python scripts/registry/produce.py \
      --brokers 127.0.0.1:19092 --registry http://127.0.0.1:18081/apis/ccompat/v7 --count 1000
"""

import argparse
import json
import random
import struct
import sys
from datetime import datetime, timedelta, timezone

from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

FIELDS = ("auction", "bidder", "price", "channel", "url", "dateTime", "extra")

AVRO_V1 = {
    "type": "record",
    "name": "Bid",
    "namespace": "eddy.nexmark",
    "fields": [
        {"name": "auction", "type": "long"},
        {"name": "bidder", "type": "long"},
        {"name": "price", "type": "long"},
        {"name": "channel", "type": "string"},
        {"name": "url", "type": "string"},
        {"name": "dateTime", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "extra", "type": "string"},
    ],
}

# v2 adds a field with a default (backward compatible: a v2 reader fills it
# in for v1 records); v3 then removes "extra" (also backward compatible).
AVRO_V2 = dict(AVRO_V1, fields=AVRO_V1["fields"] + [{"name": "currency", "type": "string", "default": "USD"}])
AVRO_V3 = dict(AVRO_V1, fields=[f for f in AVRO_V2["fields"] if f["name"] != "extra"])

JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Bid",
    "type": "object",
    "properties": {
        "auction": {"type": "integer"},
        "bidder": {"type": "integer"},
        "price": {"type": "integer"},
        "channel": {"type": "string"},
        "url": {"type": "string"},
        "dateTime": {"type": "string", "format": "date-time"},
        "extra": {"type": "string"},
    },
    "required": list(FIELDS),
    "additionalProperties": False,
}

PROTO_TEXT = """syntax = "proto3";
package eddy.nexmark;

import "google/protobuf/timestamp.proto";

message Bid {
  int64 auction = 1;
  int64 bidder = 2;
  int64 price = 3;
  string channel = 4;
  string url = 5;
  google.protobuf.Timestamp dateTime = 6;
  string extra = 7;
}
"""

CHANNELS = ("Google", "Facebook", "Baidu", "Apple")


def bid_message_class():
    """Builds the Protobuf Bid message at run time (no protoc needed).

    package eddy.nexmark; import "google/protobuf/timestamp.proto";
    message Bid { int64 auction = 1; int64 bidder = 2; int64 price = 3;
      string channel = 4; string url = 5; google.protobuf.Timestamp dateTime = 6;
      string extra = 7; }
    """
    pool = descriptor_pool.DescriptorPool()
    ts = descriptor_pb2.FileDescriptorProto()
    timestamp_pb2.DESCRIPTOR.CopyToProto(ts)
    pool.Add(ts)
    f = descriptor_pb2.FileDescriptorProto(
        name="eddy/nexmark/bid.proto", package="eddy.nexmark", syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"])
    m = f.message_type.add(name="Bid")
    T = descriptor_pb2.FieldDescriptorProto
    for num, (name, typ) in enumerate(
            [("auction", T.TYPE_INT64), ("bidder", T.TYPE_INT64), ("price", T.TYPE_INT64),
             ("channel", T.TYPE_STRING), ("url", T.TYPE_STRING), ("dateTime", T.TYPE_MESSAGE),
             ("extra", T.TYPE_STRING)], start=1):
        fd = m.field.add(name=name, number=num, type=typ, label=T.LABEL_OPTIONAL, json_name=name)
        if typ == T.TYPE_MESSAGE:
            fd.type_name = ".google.protobuf.Timestamp"
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("eddy.nexmark.Bid"))


def parse_time(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


def format_time(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def read_bids(path):
    with (sys.stdin if path == "-" else open(path)) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
                yield {
                    "auction": int(r["auction"]), "bidder": int(r["bidder"]), "price": int(r["price"]),
                    "channel": str(r["channel"]), "url": str(r["url"]),
                    "dateTime": parse_time(r["dateTime"]), "extra": str(r.get("extra", "")),
                }
            except (ValueError, KeyError, TypeError):
                continue  # eddy gen's --bad-ratio lines: not bids, skipped


def make_bids(count, seed):
    rnd = random.Random(seed)
    t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(count):
        t += timedelta(milliseconds=rnd.randint(1, 20))
        channel = rnd.choice(CHANNELS)
        yield {
            "auction": 1000 + rnd.randint(1, 50), "bidder": 1000 + rnd.randint(0, 200),
            "price": rnd.randint(100, 100000), "channel": channel,
            "url": "https://www.nexmark.com/item.htm?query=1&channel_id=%d" % CHANNELS.index(channel),
            "dateTime": t, "extra": "",
        }


def as_json(bid):
    return dict(bid, dateTime=format_time(bid["dateTime"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--registry", required=True, help="Confluent-compatible base URL")
    ap.add_argument("--prefix", default="bids", help="topic name prefix (default bids)")
    ap.add_argument("--count", type=int, default=1000, help="records to make when no --input")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--input", help="JSON lines of bids (eddy gen nexmark --only bids), - for stdin")
    ap.add_argument("--jsonl", help="also write the records produced as JSON lines to this file")
    ap.add_argument("--formats", default="avro,protobuf,protobuf-text,jsonschema,avro-evolve")
    args = ap.parse_args()

    bids = list(read_bids(args.input) if args.input else make_bids(args.count, args.seed))
    formats = [f for f in args.formats.split(",") if f]
    sr = SchemaRegistryClient({"url": args.registry})
    producer = Producer({"bootstrap.servers": args.brokers, "linger.ms": 20, "enable.idempotence": True})
    key_ser = StringSerializer()
    errors = []

    def on_delivery(err, _msg):
        if err is not None:
            errors.append(err)

    def produce(topic, serializer, values):
        for bid, value in zip(bids, values):
            key = str(bid["auction"])
            producer.produce(topic,
                             key=key_ser(key, SerializationContext(topic, MessageField.KEY)),
                             value=serializer(value, SerializationContext(topic, MessageField.VALUE)),
                             on_delivery=on_delivery)
            producer.poll(0)

    def avro(schema, topic):
        return AvroSerializer(sr, json.dumps(schema), to_dict=lambda o, ctx: o)

    for fmt in formats:
        topic = "%s-%s" % (args.prefix, fmt)
        if fmt == "avro":
            produce(topic, avro(AVRO_V1, topic), bids)
        elif fmt in ("protobuf", "protobuf-text"):
            Bid = bid_message_class()

            def to_pb(b):
                m = Bid(**{k: v for k, v in b.items() if k != "dateTime"})
                m.dateTime.FromDatetime(b["dateTime"])
                return m
            if fmt == "protobuf":
                produce(topic, ProtobufSerializer(Bid, sr, {}), (to_pb(b) for b in bids))
            else:
                sid = sr.register_schema(topic + "-value", Schema(PROTO_TEXT, "PROTOBUF"))
                frame = b"\x00" + struct.pack(">I", sid) + b"\x00"  # index list [0]: one zero byte
                produce(topic, lambda m, ctx: frame + m.SerializeToString(), (to_pb(b) for b in bids))
        elif fmt == "jsonschema":
            ser = JSONSerializer(json.dumps(JSON_SCHEMA), sr, to_dict=lambda o, ctx: o)
            produce(topic, ser, (as_json(b) for b in bids))
        elif fmt == "avro-evolve":
            sr.set_compatibility(subject_name=topic + "-value", level="BACKWARD")
            third = len(bids) // 3
            v2 = [dict(b, currency="EUR") for b in bids]
            v3 = [{k: v for k, v in b.items() if k != "extra"} for b in v2]
            # Serializers are made in turn so each registers its version
            # just before its first record.
            for lo, hi, schema, values in ((0, third, AVRO_V1, bids), (third, 2 * third, AVRO_V2, v2),
                                           (2 * third, len(bids), AVRO_V3, v3)):
                ser = avro(schema, topic)
                for bid, value in zip(bids[lo:hi], values[lo:hi]):
                    producer.produce(topic, key=key_ser(str(bid["auction"]), None),
                                     value=ser(value, SerializationContext(topic, MessageField.VALUE)),
                                     on_delivery=on_delivery)
                    producer.poll(0)
                producer.flush(30)  # the versions' records stay in order per partition
        else:
            sys.exit("produce.py: unknown format %r" % fmt)
        print("produce.py: %d records to %s" % (len(bids), topic), file=sys.stderr)

    left = producer.flush(60)
    if left or errors:
        sys.exit("produce.py: %d undelivered, errors: %s" % (left, errors[:3]))
    if args.jsonl:
        with open(args.jsonl, "w") as f:
            for b in bids:
                f.write(json.dumps(as_json(b), separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
