package job

import (
	"fmt"
	"io"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
)

// ReportDelivery says, after a failed run, how much of what the engine
// gave them each sink and the dead-letter destination took, when it is not
// everything (a full disk): the counters count what the engine produced.
// sinks[i] writes to p.Sinks[i]; dead writes to p.DLQ (stderr when nil).
func ReportDelivery(w io.Writer, p *pipeline.Pipeline, sinks []sink.Sink, dead sink.DeadLetters) {
	say := func(name, what string, x any) {
		if d, ok := x.(sink.Deliverer); ok {
			if n := d.Delivery(); n.Written < n.Total {
				fmt.Fprintf(w, "eddy: %s: %d of %d %s written, %d not\n", name, n.Written, n.Total, what, n.Total-n.Written)
			}
		}
	}
	for i, s := range sinks {
		say(labelTarget(p.Sinks[i]), "rows", s)
	}
	name := "stderr"
	if p.DLQ != nil {
		name = "dlq " + labelTarget(*p.DLQ)
	}
	say(name, "dead letters", dead)
}
