package tui

import (
	tea "charm.land/bubbletea/v2"
)

// input is a one-line text field: typing, paste, ←/→, home/end (ctrl+a,
// ctrl+e), backspace, delete, ctrl+u (clear) and ctrl+w (delete a word).
// It is deterministic to render (no blinking cursor), which golden screens need.
type input struct {
	r   []rune
	pos int // cursor, 0..len(r)
}

func newInput(s string) input { r := []rune(s); return input{r: r, pos: len(r)} }

func (in *input) String() string { return string(in.r) }

func (in *input) set(s string) { *in = newInput(s) }

// update applies an editing key or a paste; it reports whether msg was one.
func (in *input) update(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case tea.PasteMsg:
		in.insert(msg.Content)
		return true
	case tea.KeyPressMsg:
		switch msg.String() {
		case "left", "ctrl+b":
			in.pos = max(in.pos-1, 0)
		case "right", "ctrl+f":
			in.pos = min(in.pos+1, len(in.r))
		case "home", "ctrl+a":
			in.pos = 0
		case "end", "ctrl+e":
			in.pos = len(in.r)
		case "backspace", "ctrl+h":
			if in.pos > 0 {
				in.r = append(in.r[:in.pos-1], in.r[in.pos:]...)
				in.pos--
			}
		case "delete", "ctrl+d":
			if in.pos < len(in.r) {
				in.r = append(in.r[:in.pos], in.r[in.pos+1:]...)
			}
		case "ctrl+u":
			in.r, in.pos = in.r[:0], 0
		case "ctrl+w":
			i := in.pos
			for i > 0 && in.r[i-1] == ' ' {
				i--
			}
			for i > 0 && in.r[i-1] != ' ' {
				i--
			}
			in.r = append(in.r[:i], in.r[in.pos:]...)
			in.pos = i
		default:
			if msg.Text == "" {
				return false
			}
			in.insert(msg.Text)
		}
		return true
	}
	return false
}

func (in *input) insert(s string) {
	ins := []rune(s)
	for i, c := range ins {
		if c == '\n' || c == '\r' || c == '\t' {
			ins[i] = ' '
		}
	}
	r := make([]rune, 0, len(in.r)+len(ins))
	r = append(append(append(r, in.r[:in.pos]...), ins...), in.r[in.pos:]...)
	in.r, in.pos = r, in.pos+len(ins)
}

// view renders the text with the cursor as a block; focused false hides it.
func (in *input) view(focused bool) string {
	// what is typed or prefilled (a dead letter's value to edit) may hold
	// control characters: shown as \xNN, kept as they are
	if !focused {
		return printable(string(in.r))
	}
	if in.pos >= len(in.r) {
		return printable(string(in.r)) + "█"
	}
	return printable(string(in.r[:in.pos])) + "\x1b[7m" + printable(string(in.r[in.pos])) + "\x1b[27m" + printable(string(in.r[in.pos+1:]))
}
