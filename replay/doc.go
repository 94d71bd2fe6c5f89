// Package replay triages dead letters and sends them back.
//
// [Decode] reads a dead letter from a Kafka record under any of three header
// conventions — eddy's own (eddy.*), Kafka Connect's (__connect.errors.*) and
// Spring Kafka's (kafka_dlt-*) — and [ReadFile] reads eddy's dead-letter file
// format. Either gives a [Letter]: the error, an error class for grouping
// ([Class]), the stage, where the record came from, and notes about headers
// that were missing or could not be read (never a guess).
//
// [Scan] reads a dead-letter topic up to its end as of the start, [Summary]
// groups letters by class and stage, and [Filter] picks letters with an
// expression.
//
// [Run] replays a dead-letter topic exactly once: it consumes the topic in a
// consumer group and, per batch, produces the replayed records and commits
// the consumed offsets in one Kafka transaction, so an interrupted replay
// resumes where the last transaction ended and readers of the targets with
// read_committed see every replayed record once. Records that have been
// replayed too often are parked in <topic>.parked instead. With a pipeline
// ([Through]) the records are run through it rather than produced, and
// [Options.DryRun] reports what a replay would do without writing anything.
//
// Ownership: every function here runs on its caller's goroutine; a [Filter]
// and a [Summary] are not safe for concurrent use.
package replay
