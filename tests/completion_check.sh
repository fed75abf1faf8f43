#!/bin/sh
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 The mproc authors
# completion_check.sh SOURCE TOOL: the bash completion offers the tool's
# commands and, read from each command's --help, its options; file names
# after :::: and for FILE arguments; command names where the command goes.
set -eu
src=$1
tool=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
ln -s "$tool" "$tmp/bin/mproc"
: > "$tmp/inputs.txt"
cd "$tmp"
PATH="$tmp/bin:$PATH" bash --norc --noprofile -c '
. "$1"
fail=0
expect() { # want, then the words of the line being completed
    want=$1; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    COMPREPLY=()
    _mproc
    got=" ${COMPREPLY[*]} "
    case "$got" in
        *" $want "*) ;;
        *) echo "completion: for [$*] expected $want among:$got"; fail=1 ;;
    esac
}
expect run   mproc ""
expect tree  mproc t
expect --version mproc --v
expect --jobs mproc run --jo
expect -j    mproc run -
expect --keep-order mproc run -j 4 --ke
expect inputs.txt mproc run --joblog inp
expect inputs.txt mproc run -j inp
expect --progress mproc run --prog
expect --eta mproc run --et
expect inputs.txt mproc run echo :::: inp
expect echo  mproc run -k ech
complete -p mproc >/dev/null || { echo "completion: not registered for mproc"; fail=1; }
[ $fail -eq 0 ] && echo "completion: passed"
exit $fail
' sh "$src/scripts/mproc.bash-completion"
