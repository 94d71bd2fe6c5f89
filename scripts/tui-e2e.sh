#!/usr/bin/env bash
# End-to-end test of the workbench: runs the real eddy binary under tmux,
# drives it with keystrokes and reads the screen back.
#
#   scripts/tui-e2e.sh ./eddy [CAPTURE_DIR]
#
# It starts `eddy demo`, sees the demo topics, attaches to clicks, scrolls
# the paused tail and exports it, adds a filter stage and sees the counters
# react, adds a tumbling window and sees rows and a chart, exports the
# results twice (the second time asks), sees q and d ask while the pipeline
# is unsaved, writes the pipeline and checks that `eddy run` accepts the
# file, sees a question whole at 80x24, and quits with q expecting exit
# status 0; then opens a spec of two file sources, adds a left interval join
# from its form, writes it and checks that eddy run writes as many rows with
# the same counters. With CAPTURE_DIR, each
# step's screen is saved there as text. Installs tmux with apt-get if needed.
set -euo pipefail

eddy=$(realpath "${1:?usage: scripts/tui-e2e.sh EDDY_BINARY [CAPTURE_DIR]}")
captures=${2:-}
if ! command -v tmux >/dev/null; then
  echo "installing tmux" >&2
  (apt-get update -qq && apt-get install -y -qq tmux) >/dev/null
fi

tmp=$(mktemp -d)
sess="eddy-e2e-$$"
trap 'tmux kill-session -t "$sess" 2>/dev/null || true; rm -rf "$tmp"' EXIT

screen() { tmux capture-pane -p -t "$sess"; }
fail() {
  echo "tui-e2e: $*" >&2
  echo "--- screen" >&2; screen >&2 || true
  echo "--- log" >&2; cat "$tmp/eddy.log" >&2 2>/dev/null || true
  exit 1
}
# wait_for PATTERN [SECONDS]: wait until the screen matches a Perl regexp.
wait_for() {
  local deadline=$(( $(date +%s) + ${2:-30} ))
  until screen | grep -Pq -- "$1"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for /$1/"
    sleep 0.2
  done
}
capture() { [ -z "$captures" ] || screen >"$captures/$1.txt"; }
keys() { tmux send-keys -t "$sess" "$@"; }
text() { tmux send-keys -t "$sess" -l -- "$1"; }

# wait_whole PATTERN [SECONDS]: the same over the screen's lines joined
# with single spaces, for text that wraps (a question, a long message).
wait_whole() {
  local deadline=$(( $(date +%s) + ${2:-30} ))
  until screen | tr '\n' ' ' | tr -s ' ' | grep -Pq -- "$1"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for /$1/ (lines joined)"
    sleep 0.2
  done
}

[ -z "$captures" ] || mkdir -p "$captures"
tmux new-session -d -s "$sess" -x 120 -y 36 \
  "cd '$tmp' && TERM=xterm-256color '$eddy' demo --listen 127.0.0.1:0 --log '$tmp/eddy.log'; echo \$? >'$tmp/exit'; sleep 60"

echo "1. the demo topics"
wait_for 'nexmark\.bids +3'
wait_for 'clicks +3 +[0-9]+ +[0-9.]+k?/s'
capture 1-topics

echo "2. attach to clicks"
keys Enter
wait_for '\[Records\]'
wait_for 'P +OFFSET +.*ts +user_id'
capture 2-records

echo "2b. scroll the tail (paused): g, pgdn and g again; export it with x"
first_row() { screen | grep -P '^\d+ +\d+ ' | head -1; }
keys Space
wait_for 'PAUSED'
keys g
sleep 0.3
top=$(first_row)
keys PPage; keys NPage; keys NPage
sleep 0.3
[ "$(first_row)" != "$top" ] || fail "pgdn did not scroll the records"
keys g
sleep 0.3
[ "$(first_row)" = "$top" ] || fail "g did not go back to the oldest record ($top)"
capture 2-scrolled
keys Space
keys x
wait_for 'export duckdb eddy-records\.duckdb records'
keys Enter
wait_whole 'wrote [0-9]+ rows to eddy-records\.duckdb, table records'
capture 2-exported
[ -s "$tmp/eddy-records.duckdb" ] || fail "no eddy-records.duckdb written"

echo "3. add a filter stage; the counters react"
keys Tab
wait_for '\[Pipeline\]'
keys a
wait_for 'add a stage'
keys f
wait_for 'new stage 0:filter'
text 'event == "purchase"'
wait_for 'valid · enter applies'
capture 3-filter-form
keys Enter
wait_for 'added stage 0:filter'
wait_for '(passed|ok) [1-9][0-9]* (filtered|filt) [1-9][0-9]*'
capture 3-filter-applied

echo "4. add a tumbling window; rows and a chart appear"
keys a
wait_for 'add a stage'
keys w
wait_for 'new stage 1:window'
keys Tab C-u; text '1s'
keys Tab C-u; text 'country'
keys Tab C-u; text 'orders: count(), revenue: sum(amount)'
wait_for 'valid · enter applies'
capture 4-window-form
keys Enter
wait_for 'added stage 1:window'
keys Tab
wait_for '\[Results\]'
wait_for 'window_start +window_end +orders +revenue' 40
wait_for 'orders per window, top [0-9] keys' 40
wait_for '[\x{2801}-\x{28FF}]{3}' # the chart's braille
wait_for '^ *0└'
capture 4-results

echo "4b. export the results twice: the second time asks append, replace or a new table"
keys x
wait_for 'export duckdb eddy-results\.duckdb results'
keys Enter
wait_whole 'wrote [0-9]+ rows to eddy-results\.duckdb, table results'
keys x
wait_for 'export duckdb eddy-results\.duckdb results'
keys Enter
wait_whole 'Table results in eddy-results\.duckdb already has [0-9]+ rows'
wait_whole 't new table results_2'
capture 4-export-question
keys t
# the question's own line names results_2 until t is read: wait for the
# export's report, or it lands later and replaces the next step's message
wait_whole 'wrote [0-9]+ rows to eddy-results\.duckdb, table results_2\b'

echo "4c. q with the unsaved pipeline asks; n stays"
keys q
wait_whole 'Quit and lose them\?'
capture 4-quit-question
keys n
wait_for 'not quit'
[ ! -s "$tmp/exit" ] || fail "eddy quit after n"

echo "4d. d on the window stage asks; n keeps it"
keys BTab
wait_for '\[Pipeline\]'
keys Down Down
keys d
wait_whole 'delete stage 1:window \(.* the state of the windows still open is discarded .* y deletes · n/esc keeps it'
capture 4-delete-question
keys n
wait_for 'not deleted'
keys Tab
wait_for '\[Results\]'

echo "5. write the pipeline; eddy run accepts it"
keys BTab
wait_for '\[Pipeline\]'
keys w
wait_for 'write pipeline file:'
keys C-u; text "$tmp/e2e.yaml"; keys Enter
wait_for 'wrote .*e2e\.yaml'
capture 5-written
[ -s "$tmp/e2e.yaml" ] || fail "no pipeline file written"
set +e
timeout -s INT 10 "$eddy" run "$tmp/e2e.yaml" --out "$tmp/rows.jsonl" --dlq "$tmp/dead.jsonl" --stats "$tmp/stats.json" 2>"$tmp/run.err"
rc=$?
set -e
if [ "$rc" = 2 ]; then cat "$tmp/run.err" >&2; cat "$tmp/e2e.yaml" >&2; fail "eddy run rejected the written pipeline"; fi
grep -q '"window_start"' "$tmp/rows.jsonl" || { cat "$tmp/run.err" >&2; fail "eddy run of the written pipeline produced no window rows (rc $rc)"; }
echo "   eddy run: $(wc -l <"$tmp/rows.jsonl") rows, rc $rc"

echo "6. resize to 80x24: everything fits"
tmux resize-window -t "$sess" -x 80 -y 24
wait_for '^ clicks │ lag' 10
sleep 0.3
lines=0
while IFS= read -r line; do
  lines=$((lines + 1))
  [ "$(printf '%s' "$line" | wc -m)" -le 80 ] || fail "a line is wider than 80 columns after the resize: $line"
done < <(screen)
[ "$lines" -le 24 ] || fail "$lines lines after the resize"
wait_for '\? help · q quit' 5
capture 6-resized

echo "6b. at 80x24 the delete question is shown whole"
keys d
wait_whole 'delete stage 1:window \(.* the state of the windows still open is discarded .* y deletes · n/esc keeps it'
capture 6-delete-question-80x24
keys n
wait_for 'not deleted'

echo "7. quit with q (the pipeline is saved: no question)"
keys q
for _ in $(seq 100); do [ -s "$tmp/exit" ] && break; sleep 0.1; done
[ -s "$tmp/exit" ] || fail "eddy did not exit after q"
[ "$(cat "$tmp/exit")" = 0 ] || fail "eddy exited with $(cat "$tmp/exit")"
grep -q "attached to clicks" "$tmp/eddy.log" || fail "the log file has no attach line"

echo "7b. a pipeline of two file sources: a join from the form; eddy run of the saved file gives the same rows"
for i in $(seq 1 8); do
  printf '{"id":%d,"seller":"s%d","dateTime":%d}\n' "$i" $((i % 3)) $((1700000000000 + i * 1000))
done >"$tmp/auctions.jsonl"
for i in $(seq 0 39); do
  a=$((i % 10 + 1)) # auctions 9 and 10 do not exist: the left join's nulls
  printf '{"auction":%d,"bidder":%d,"price":%d,"dateTime":%d}\n' "$a" $((i % 5)) $((100 + i * 7 % 50)) $((1700000000000 + a * 1000 + (i % 4) * 2000 - 1000))
done >"$tmp/bids.jsonl"
printf 'name: join\nsources:\n  bids: {file: bids.jsonl}\n  auctions: {file: auctions.jsonl}\nsinks:\n  - file: join-rows.jsonl\ndlq: {file: join-dead.jsonl}\n' >"$tmp/join.yaml"
jn="eddy-e2e-join-$$"
trap 'tmux kill-session -t "$sess" 2>/dev/null || true; tmux kill-session -t "$jn" 2>/dev/null || true; rm -rf "$tmp"' EXIT
tmux new-session -d -s "$jn" -x 120 -y 36 \
  "cd '$tmp' && TERM=xterm-256color '$eddy' tui -p join.yaml --log '$tmp/join.log'; echo \$? >'$tmp/join-exit'; sleep 60"
tmux kill-session -t "$sess" 2>/dev/null || true # the demo's workbench has exited
sess=$jn # screen, keys and text drive this session now
wait_for 'sources bids,auctions'
wait_for '_source +POS'
wait_for 'in 48 (passed|ok) 48 .*ended'
capture 7b-sources
keys Tab
wait_for '\[Pipeline\]'
keys a
wait_for 'j  join'
keys j
wait_for 'new stage 0:join'
wait_for 'fields of auctions: id, seller, dateTime'
keys Tab; text 'auction: id'
keys Tab Tab C-u; text '-1s, 3s'
keys Tab C-u; text 'left'
keys Tab; text 'auction, price, auctions.seller, auction_time: auctions.dateTime'
keys Tab C-u; text 'dateTime'
keys Tab C-u; text '20s'
wait_for 'valid · enter applies'
capture 7b-join-form
keys Enter
wait_for 'added stage 0:join'
wait_for '[1-9][0-9]* rows.*ended'
capture 7b-join-applied
shown=$(screen | grep -oP '[0-9]+(?= rows)' | tail -1)
counts=$(screen | grep -oP 'in [0-9]+ (passed|ok) [0-9]+ (filtered|filt) [0-9]+ dead [0-9]+ late [0-9]+' | tail -1 | grep -oP '[0-9]+' | tr '\n' ' ')
keys w
wait_for 'write pipeline file: join\.yaml'
keys Enter
wait_for 'wrote join\.yaml'
keys q
for _ in $(seq 100); do [ -s "$tmp/join-exit" ] && break; sleep 0.1; done
[ "$(cat "$tmp/join-exit" 2>/dev/null)" = 0 ] || fail "the join workbench did not exit with 0 after q"
grep -q 'join:' "$tmp/join.yaml" || fail "the written pipeline has no join stage"
(cd "$tmp" && "$eddy" run join.yaml 2>"$tmp/join-run.err") || { cat "$tmp/join-run.err" >&2; fail "eddy run of the written join pipeline failed"; }
ran=$(grep -oP 'in=[0-9]+ passed=[0-9]+ filtered=[0-9]+ dead=[0-9]+ late=[0-9]+' "$tmp/join-run.err" | head -1 | grep -oP '[0-9]+' | tr '\n' ' ')
[ "$ran" = "$counts" ] || fail "eddy run's counters ($ran) differ from the workbench's ($counts)"
[ "$(wc -l <"$tmp/join-rows.jsonl")" = "$shown" ] || fail "eddy run wrote $(wc -l <"$tmp/join-rows.jsonl") rows, the workbench showed $shown"
echo "   join: $shown rows in the workbench and from eddy run, counters $counts"

echo "8. NO_COLOR: no colour escapes, the same text"
nc="eddy-e2e-nocolor-$$"
tmux new-session -d -s "$nc" -x 100 -y 30 "cd '$tmp' && TERM=xterm-256color NO_COLOR=1 '$eddy' demo --listen 127.0.0.1:0; sleep 30"
trap 'tmux kill-session -t "$sess" 2>/dev/null || true; tmux kill-session -t "$jn" 2>/dev/null || true; tmux kill-session -t "$nc" 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do tmux capture-pane -p -t "$nc" | grep -q 'clicks' && break; sleep 0.2; done
tmux capture-pane -p -t "$nc" | grep -q 'enter attach' || fail "the NO_COLOR workbench did not start"
if tmux capture-pane -e -p -t "$nc" | grep -Pq '\e\[(?:[0-9;]*;)?(?:3[0-7]|4[0-7]|9[0-7]|10[0-7]|38;5|48;5|38;2|48;2)[;m]'; then
  tmux capture-pane -e -p -t "$nc" | cat -v | head -5 >&2
  fail "colour escapes on screen with NO_COLOR=1"
fi
tmux send-keys -t "$nc" q

echo "tui-e2e: passed"
