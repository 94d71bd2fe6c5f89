// Package pebblestore is the Pebble backend of the window operator's keyed
// state (state.backend: pebble): a [windows.Store] whose key space may
// exceed memory, with [Options.MemoryLimit] split between the operator's
// decoded cache, Pebble's memtables and its block cache.
//
// The live store (Dir/live) is scratch: it is written whenever the cache
// evicts or the pending batch grows, without a write-ahead log. A consistent
// copy is made by Checkpoint (the memtable flushed, then a Pebble
// checkpoint, Dir/ck-N: hard links to the immutable tables and a copy of
// the manifest), and Restore starts from such a copy, so the store's
// contents always match a checkpoint's engine state on restart.
//
// A failed background flush or compaction (a full disk) is an error of the
// next call, never a hang or an exit of the process: Pebble's fatal log
// line becomes an error too.
package pebblestore
