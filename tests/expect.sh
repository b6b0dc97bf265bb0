# The shell tests' harness, sourced by kmrun_test.sh and kmstat_test.sh.
# The caller sets case_name and tmp (the case's directory, where out, err
# and any other capture it names in $captures live).
#
#   run COMMAND...       its exit status in $rc, its output in out and err
#   expect_rc N          the exit status was N
#   expect_out STRING    standard output contains STRING
#   expect_err STRING    standard error contains STRING
#   fail MESSAGE         report the case as failed, with what was captured

rc=0
captures=${captures:-out err}

fail() {
	echo "FAIL ($case_name): $*"
	echo "--- exit status: $rc"
	for f in $captures; do
		[ -e "$tmp/$f" ] || continue
		echo "--- $f:"
		cat "$tmp/$f"
	done
	exit 1
}

run() {
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

expect_rc() {
	[ "$rc" -eq "$1" ] || fail "exit status $rc, expected $1"
}

expect_out() {
	grep -qF -- "$1" "$tmp/out" || fail "standard output lacks \"$1\""
}

expect_err() {
	grep -qF -- "$1" "$tmp/err" || fail "standard error lacks \"$1\""
}
