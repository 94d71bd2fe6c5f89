"""The independent client of eddy's Kinesis and S3 tests: boto3 and pyarrow.

Usage: python client.py COMMAND ARGS (endpoints from EDDY_TEST_KINESIS_ENDPOINT
and EDDY_TEST_AWS_ENDPOINT, credentials and region from the environment, as
scripts/aws.sh env prints them).

  create STREAM SHARDS          create a stream and wait until it is ACTIVE
  put STREAM FILE KEYFIELD      put each line of FILE (PutRecords, 500 a call,
                                failed entries retried) with the partition key
                                from KEYFIELD (- for a line that is not a JSON
                                object with it); prints the count
  split STREAM                  split every open shard in two at the middle of its
                                hash range and wait until ACTIVE
  merge STREAM                  merge the first two adjacent open shards
  shards STREAM                 print the shards as JSON lines
  read STREAM                   read every shard (parents before children) until
                                caught up; prints records/s on stderr and the
                                count on stdout
  dump STREAM                   print every record as {"key": partition key, "data": text}, sorted
  bucket BUCKET                 create an S3 bucket
  parquet BUCKET KEY            print the rows of a Parquet object as JSON lines
                                (pyarrow), sorted
  parquetfile PATH              the same for a local Parquet file
  parquetall BUCKET PREFIX      the rows of every object under PREFIX, sorted, and on
                                stderr how many objects
  rows BUCKET KEY | rowsfile PATH   print the number of rows of a Parquet object or file
  etag BUCKET KEY               print an object's ETag (…-N: a multipart upload of N parts)
  ls BUCKET PREFIX              print the keys under PREFIX
  uploads BUCKET                print the number of multipart uploads in progress
"""
import io
import json
import os
import sys
import time

import boto3


def kinesis():
    return boto3.client("kinesis", endpoint_url=os.environ["EDDY_TEST_KINESIS_ENDPOINT"])


def s3():
    return boto3.client("s3", endpoint_url=os.environ["EDDY_TEST_AWS_ENDPOINT"])


def wait_active(k, stream):
    for _ in range(200):
        if k.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            return
        time.sleep(0.05)
    sys.exit("stream %s not ACTIVE" % stream)


def open_shards(k, stream):
    shards = k.list_shards(StreamName=stream)["Shards"]
    return [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]


def main(argv):
    cmd, args = argv[0], argv[1:]
    if cmd == "create":
        k = kinesis()
        k.create_stream(StreamName=args[0], ShardCount=int(args[1]))
        wait_active(k, args[0])
    elif cmd == "put":
        k = kinesis()
        stream, path, field = args
        entries = []
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        key = str(json.loads(line)[field])
                    except (ValueError, KeyError, TypeError):
                        key = "-"  # a bad record: still put, for the dead letters
                    entries.append({"Data": line.encode(), "PartitionKey": key})
        n = 0
        for i in range(0, len(entries), 500):
            batch = entries[i:i + 500]
            for _ in range(20):
                out = k.put_records(StreamName=stream, Records=batch)
                failed = [e for e, r in zip(batch, out["Records"]) if "ErrorCode" in r]
                n += len(batch) - len(failed)
                if not failed:
                    break
                batch = failed
                time.sleep(0.1)
            else:
                sys.exit("put: records still failing")
        print(n)
    elif cmd == "split":
        k = kinesis()
        for s in open_shards(k, args[0]):
            lo, hi = int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])
            k.split_shard(StreamName=args[0], ShardToSplit=s["ShardId"], NewStartingHashKey=str((lo + hi) // 2 + 1))
            wait_active(k, args[0])
    elif cmd == "merge":
        k = kinesis()
        shards = sorted(open_shards(k, args[0]), key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))
        k.merge_shards(StreamName=args[0], ShardToMerge=shards[0]["ShardId"], AdjacentShardToMerge=shards[1]["ShardId"])
        wait_active(k, args[0])
    elif cmd == "shards":
        for s in kinesis().list_shards(StreamName=args[0])["Shards"]:
            print(json.dumps(s))
    elif cmd == "read":
        k = kinesis()
        shards = {s["ShardId"]: s for s in k.list_shards(StreamName=args[0])["Shards"]}
        done, n, t0 = set(), 0, time.perf_counter()
        while len(done) < len(shards):
            for sid, s in shards.items():
                parents = [p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p in shards]
                if sid in done or any(p not in done for p in parents):
                    continue
                it = k.get_shard_iterator(StreamName=args[0], ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                while it:
                    out = k.get_records(ShardIterator=it, Limit=10000)
                    n += len(out["Records"])
                    it = out.get("NextShardIterator")
                    if not out["Records"] and out.get("MillisBehindLatest", 0) == 0:
                        break
                done.add(sid)
        dt = time.perf_counter() - t0
        print("boto3 read %d records in %.3fs: %.0f records/s" % (n, dt, n / dt), file=sys.stderr)
        print(n)
    elif cmd == "dump":
        k = kinesis()
        out = []
        for s in k.list_shards(StreamName=args[0])["Shards"]:
            it = k.get_shard_iterator(StreamName=args[0], ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while it:
                r = k.get_records(ShardIterator=it, Limit=10000)
                out += [json.dumps({"key": x["PartitionKey"], "data": x["Data"].decode()}) for x in r["Records"]]
                it = r.get("NextShardIterator")
                if not r["Records"] and r.get("MillisBehindLatest", 0) == 0:
                    break
        for line in sorted(out):
            print(line)
    elif cmd == "bucket":
        s3().create_bucket(Bucket=args[0])
    elif cmd == "parquet":
        import pyarrow.parquet as pq
        body = s3().get_object(Bucket=args[0], Key=args[1])["Body"].read()
        rows = pq.read_table(io.BytesIO(body), use_threads=False).to_pylist()
        for line in sorted(json.dumps(r, sort_keys=True, default=str) for r in rows):
            print(line)
    elif cmd == "parquetall":
        import pyarrow.parquet as pq
        c, rows = s3(), []
        keys = [o["Key"] for o in c.list_objects_v2(Bucket=args[0], Prefix=args[1]).get("Contents", [])]
        for key in keys:
            rows += pq.read_table(io.BytesIO(c.get_object(Bucket=args[0], Key=key)["Body"].read()), use_threads=False).to_pylist()
        for line in sorted(json.dumps(r, sort_keys=True, default=str) for r in rows):
            print(line)
        print("%d objects" % len(keys), file=sys.stderr)
    elif cmd == "parquetfile":
        import pyarrow.parquet as pq
        for line in sorted(json.dumps(r, sort_keys=True, default=str) for r in pq.read_table(args[0], use_threads=False).to_pylist()):
            print(line)
    elif cmd == "rows":
        import pyarrow.parquet as pq
        print(pq.read_metadata(io.BytesIO(s3().get_object(Bucket=args[0], Key=args[1])["Body"].read())).num_rows)
    elif cmd == "rowsfile":
        import pyarrow.parquet as pq
        print(pq.read_metadata(args[0]).num_rows)
    elif cmd == "etag":
        print(s3().head_object(Bucket=args[0], Key=args[1])["ETag"].strip('"'))
    elif cmd == "ls":
        out = s3().list_objects_v2(Bucket=args[0], Prefix=args[1] if len(args) > 1 else "")
        for o in out.get("Contents", []):
            print(o["Key"])
    elif cmd == "uploads":
        print(len(s3().list_multipart_uploads(Bucket=args[0]).get("Uploads", [])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
    # pyarrow's thread pools can abort the interpreter's teardown
    # ("terminate called without an active exception", apache/arrow#34314)
    # after the work is done and printed: the reads above use no threads, and
    # the process leaves without the teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
