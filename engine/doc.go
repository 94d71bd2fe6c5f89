// Package engine runs a compiled pipeline: it decodes each record's wanted
// fields, runs the stateless steps, feeds the window operator, writes rows
// to the sinks and routes every record it cannot handle to the dead
// letters. Every record read ends in exactly one bucket, so
// in = passed + filtered + dead + late holds in every [Stats] snapshot.
//
// Ownership: one goroutine (the caller of [Engine.Process] and
// [Engine.Finish]) owns the engine and everything in it. [Engine.Stats] may
// be called from any goroutine; it reads counters published after each batch.
package engine
