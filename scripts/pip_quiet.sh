# Sourced by quickstart.sh and run_tests.sh: `pip install` without the lines a user cannot act on.
# A machine-wide pip config may list local package indexes that do not exist on this machine
# (extra-index-url = file:///...); pip then warns once per package and index, over a hundred lines.
# Only those lines are dropped: every other warning and error, and pip's exit status, stay.
pip_install() {
  local rc=0
  pip install -q "$@" 2> >(grep -v "^WARNING: Location 'file://.*' is ignored: it is neither a file nor a directory\.$" >&2) || rc=$?
  wait  # the filter has written everything before the next step prints
  return "$rc"
}
