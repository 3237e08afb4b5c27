#!/usr/bin/env bash
# copyright.sh BIN — the package's /usr/share/doc/notifier/copyright, in Debian's machine-readable
# format (DEP-5): notifier's own terms, then the Go standard library and every module that
# `go version -m BIN` says is compiled into BIN, each with the license text from the module cache
# (their licenses ask that the notice go with every binary copy). Run from the repository root.
#
# The repository has no LICENSE file: no license is granted, so notifier's own files are "all
# rights reserved". A module whose license is none of Apache-2.0, Expat, BSD-2/3-clause is an
# error, never a guess.
set -euo pipefail
bin=${1:?usage: copyright.sh BIN}
# The one identity the repository's history names (git log), also the package's Maintainer.
holder=$(sed -n 's/^maintainer: *//p' packaging/nfpm.yaml)
holder_name=${holder% <*}
first=$(git log --reverse --format=%ad --date=format:%Y 2>/dev/null | sed -n 1p || true)
last=$(git log -1 --format=%ad --date=format:%Y 2>/dev/null || true)
years=${first:-$(date -u +%Y)}
[ -z "$last" ] || [ "$last" = "$first" ] || years="$first-$last"

# indent FILE: a DEP-5 field body: each line after one space, an empty line as " ."
indent() { sed -e 's/[[:space:]]*$//' -e 's/^$/./' -e 's/^/ /' "$1"; }
# license FILE: the DEP-5 short name of the license text in FILE.
license() {
	local apache=0 mit=0 bsd=0 neither=0
	grep -q 'Apache License' "$1" && apache=1
	grep -q 'Permission is hereby granted, free of charge' "$1" && mit=1
	grep -q 'Redistribution and use in source and binary forms' "$1" && bsd=1
	grep -q 'Neither the name' "$1" && neither=1
	case "$apache$mit$bsd" in
	100) echo Apache-2.0 ;;
	110) echo "Expat and Apache-2.0" ;;
	010) echo Expat ;;
	001) if [ $neither = 1 ]; then echo BSD-3-clause; else echo BSD-2-clause; fi ;;
	*) return 1 ;;
	esac
}
# stanza NAME DIR [WHAT]: the Files paragraph of one Go module (or the standard library) in DIR.
stanza() {
	local name=$1 dir=$2 what=${3:-$1} f= c id
	for c in LICENSE LICENSE.txt LICENSE.md COPYING; do
		if [ -f "$dir/$c" ]; then f=$dir/$c; break; fi
	done
	[ -n "$f" ] || { echo "copyright.sh: $name: no LICENSE file in $dir" >&2; return 1; }
	id=$(license "$f") || { echo "copyright.sh: $name: cannot tell the license of $f" >&2; return 1; }
	echo
	echo "Files: $name/*"
	echo "Comment: $what, compiled into /usr/bin/notifier"
	printf 'Copyright:'
	if grep -q '^Copyright' "$f"; then
		grep '^Copyright' "$f" | sed -e 's/^Copyright *\((c)\|©\)\? *//' -e 's/^/ /'
	else
		echo " the $name authors"
	fi
	echo "License: $id"
	if [ "$id" = Apache-2.0 ]; then
		echo " On Debian systems, the complete text of the Apache License, Version 2.0,"
		echo " can be found in /usr/share/common-licenses/Apache-2.0."
	else
		indent "$f"
	fi
}

cat <<HEAD
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: notifier
Upstream-Contact: $holder

Files: *
Copyright: $years $holder_name
License: proprietary
 All rights reserved. The notifier repository has no license file and
 grants no license: copying, modifying or distributing notifier needs the
 copyright holder's permission.
HEAD

stanza go "$(go env GOROOT)" "the Go standard library and runtime ($(go env GOVERSION))"
go version -m "$bin" | awk '$1 == "dep" { print $2, $3 }' | while read -r path version; do
	dir=$(go mod download -json "$path@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	[ -n "$dir" ] || { echo "copyright.sh: $path@$version: not in the module cache" >&2; exit 1; }
	stanza "$path" "$dir" "Go module $path $version"
done
