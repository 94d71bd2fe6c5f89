package pipeline

import (
	"fmt"
	"time"
)

func init() {
	register(&Kind{
		Name: "redis", Role: AsSink, Order: 50,
		Doc: "Keeps the latest window per key in a Redis hash (a feature cache); an older window or revision never overwrites a newer one.",
		Fields: []Field{
			{Name: "addr", Type: StringValue, Required: true, NonEmpty: true,
				Doc: "the server, `HOST:PORT`"},
			{Name: "prefix", Type: StringValue, DefaultDoc: "the pipeline's name",
				Doc: "keys are `PREFIX:` and the key fields' values joined by `:`"},
			{Name: "ttl", Type: StringValue, Go: "TTL", Check: checkPositiveDuration, DefaultDoc: "twice the window size",
				Doc: "how long a key lives after its last write (`20s`, `1h`)"},
			{Name: "user", Type: StringValue, DefaultDoc: "none (the default user)",
				Doc: "the ACL user"},
			{Name: "password", Type: StringValue, DefaultDoc: "none",
				Doc: "the ACL user's password (or the `requirepass` password)"},
			{Name: "tls", Type: StringValue, Go: "TLS", Default: "false", Values: []string{"false", "true"},
				Doc: "connect with TLS, verifying the server against the system's roots"},
			{Name: "db", Type: CountValue, Go: "DB", Unit: "databases", DefaultDoc: "0",
				Doc: "the database number"},
			{Name: "batch_rows", Type: CountValue, Unit: "rows", DefaultDoc: "1000",
				Doc: "rows per pipelined batch"},
		},
		bind: configIn(func(t *Target) **RedisTarget { return &t.Redis }),
	})
}

// checkPositiveDuration checks a duration field's value (Go syntax, > 0).
func checkPositiveDuration(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q (use Go syntax: 500ms, 10s, 1m, 1h30m)", s)
	}
	if d <= 0 {
		return fmt.Errorf("must be > 0")
	}
	return nil
}
