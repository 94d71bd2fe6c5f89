package engine

import (
	"fmt"
	"strings"

	"github.com/eddyhq/eddy/value"
)

// unseenCheck is how many decoded records the engine looks at for input
// fields that the pipeline reads and none of them has (a misspelt field:
// `amout > 0` filters or dead-letters every record without an error).
const unseenCheck = 1000

// unseenFields notes which input slots have held a value other than null.
type unseenFields struct {
	seen []bool
	n    int // records looked at
}

func (u *unseenFields) observe(row []value.Value) {
	u.n++
	for i := range row {
		if !u.seen[i] && !row[i].IsNull() {
			u.seen[i] = true
		}
	}
}

// warnUnseen reports, through Options.Warn, each input field the records
// looked at never had, naming the stages that read it, and stops looking.
func (e *Engine) warnUnseen() {
	u := e.unseen
	e.unseen = nil
	if u == nil || u.n == 0 {
		return
	}
	for slot, ok := range u.seen {
		if ok {
			continue
		}
		uses := e.plan.UsedBy(slot)
		if len(uses) == 0 {
			continue
		}
		e.opts.Warn(fmt.Sprintf("field %s is in none of the first %d records (null in each): %s reads it; is it misspelt?",
			strings.Join(e.plan.Input[slot], "."), u.n, strings.Join(uses, ", ")))
	}
}
