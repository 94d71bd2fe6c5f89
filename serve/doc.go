// Package serve is eddy serve's HTTP side: the feature table (a sink the
// job writes every window row to, keeping the latest closed window of each
// key, newer wins, bounded) and the handlers that answer lookups from it,
// the probes, /metrics and the OpenAPI document, behind the loopback rule
// (an address other than loopback needs a bearer token or mutual TLS).
//
//	t := serve.NewTable(layout, serve.TableOptions{MaxKeys: 1_000_000})
//	j, _ := job.Open(ctx, p, job.Options{Sinks: []sink.Sink{t}, Registry: reg})
//	h, _ := serve.Handler(serve.Config{Pipeline: p.Name, Table: t, Registry: reg, Ready: ...})
//	srv, _ := serve.Start(h, serve.Listen{Addr: "127.0.0.1:8080"})
//
// The API is described in docs/serving.md and by [OpenAPI]. Layering:
// serve imports sink and value, never job or engine; cmd/serve.go wires
// the two.
package serve
