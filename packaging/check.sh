#!/usr/bin/env bash
# Checks the packages `make package` built, without installing them: what
# they hold, with which modes, which file is a conffile, that the
# maintainer scripts are there, and that the files are the repository's.
#
#   packaging/check.sh [--install-rpm-tools] [DIST_DIR]     (default dist)
#
# The .deb is checked with dpkg-deb and lintian (errors and warnings fail,
# but for the tags packaging/lintian-overrides accepts, with its reasons),
# and its systemd units with systemd-analyze verify.
# The .rpm is checked when rpm is installed; --install-rpm-tools installs it
# first (apt-get install rpm cpio). Without lintian or rpm a check is a
# SKIP line, and so is the units' check without systemd-analyze, except
# under CI=true where they fail.
# One PASS/FAIL line per check; the exit status is 1 when any failed.
# Run from the repository root (it compares with policies/ and examples/).
set -uo pipefail
. "$(dirname "$0")/checklib.sh"

install_rpm=
if [ "${1:-}" = --install-rpm-tools ]; then
	install_rpm=1
	shift
fi
dist=${1:-dist}

# one GLOB: the single file GLOB names (a stale package beside it would
# make the check ambiguous).
one() {
	local f=() g
	for g in $1; do [ -e "$g" ] && f+=("$g"); done
	if [ "${#f[@]}" -ne 1 ]; then
		echo "want exactly one $1, found ${#f[@]}: ${f[*]:-none}" >&2
		return 1
	fi
	printf '%s\n' "${f[0]}"
}
# has_line TEXT LINE: TEXT has LINE exactly.
has_line() { grep -qxF -- "$2" <<<"$1" || { echo "no line \"$2\" in:"; echo "$1"; return 1; }; }
# equal GOT WANT
# lacks TEXT STRING: TEXT does not mention STRING.
lacks() { ! grep -F -- "$2" <<<"$1"; }
# version_set V: a version nfpm did not make up or leave unexpanded.
version_set() { case $1 in "" | *rc0* | *'$'*) echo "version \"$1\""; return 1 ;; esac; }
# same_examples DIR: DIR holds exactly the files examples/ has in git, but
# examples/demo, and each is the repository's.
same_examples() {
	local want got f
	want=$(git ls-files examples | grep -v '^examples/demo/' | sed 's#^examples/##' | sort)
	got=$(cd "$1" && find . -type f | sed 's#^\./##' | sort)
	equal "$got" "$want" || return 1
	for f in $want; do cmp "$1/$f" "examples/$f" || return 1; done
}
# The systemd units the packages ship.
units="notifier-flush.service notifier-flush.timer notifier.socket notifier.service"
# verify_units ROOT: systemd-analyze verify of the units as ROOT (an
# unpacked package) has them, with its binaries: silent, since it reports
# unknown keys and bad values as warnings and still exits 0. It runs in a
# copy of ROOT given the host's targets (the units' dependencies) and kill
# (ExecReload=/bin/kill; a stand-in where the host has none, as a container
# without procps): nothing of the host's notifier is used. No man
# check: the page is checked above, and man need not be installed.
verify_units() {
	local v u k out rc
	v=$(mktemp -d)
	cp -a "$1/." "$v/"
	cp -n /lib/systemd/system/*.target "$v/lib/systemd/system/"
	mkdir -p "$v/bin"
	if k=$(type -P kill); then cp "$k" "$v/bin/kill"; else printf '#!/bin/sh\n' >"$v/bin/kill" && chmod +x "$v/bin/kill"; fi
	out=$(cd / && systemd-analyze verify --man=no --root="$v" $(for u in $units; do echo "/lib/systemd/system/$u"; done) 2>&1)
	rc=$?
	rm -rf "$v"
	printf '%s' "$out"
	[ "$rc" -eq 0 ] && [ -z "$out" ]
}
# static FILE: an executable with no program interpreter (CGO_ENABLED=0).
static() { ! LC_ALL=C readelf -l "$1" 2>&1 | grep -q 'program interpreter' && LC_ALL=C readelf -h "$1" >/dev/null; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- deb --------------------------------------------------------------
if ! deb=$(one "$dist/notifier_*.deb"); then
	fail "deb: one package in $dist" "$(one "$dist/notifier_*.deb" 2>&1)"
else
	pass "deb: one package in $dist ($(basename "$deb"), $(stat -c %s "$deb") bytes)"
	field() { dpkg-deb -f "$deb" "$1"; }
	check "deb: Package is notifier" equal "$(field Package)" notifier
	version=$(field Version)
	check "deb: Version $version is set (not nfpm's default)" version_set "$version"
	if [ -n "${NOTIFIER_VERSION:-}" ]; then
		check "deb: Version is \$NOTIFIER_VERSION-1" equal "$version" "$NOTIFIER_VERSION-1"
	fi
	check "deb: no Depends, Recommends or Suggests (static binary)" \
		test -z "$(field Depends)$(field Recommends)$(field Suggests)"

	listing=$(dpkg-deb -c "$deb" | awk '{print $1, $2, $6}')
	for want in \
		"-rwxr-xr-x root/root ./usr/bin/notifier" \
		"-rwxr-xr-x root/root ./usr/bin/notifier-drop" \
		"-rwxr-xr-x root/root ./usr/bin/notifier-engine" \
		"-rw-r--r-- root/root ./etc/notifier/notifier.yaml" \
		"-rw-r--r-- root/root ./lib/systemd/system/notifier-flush.service" \
		"-rw-r--r-- root/root ./lib/systemd/system/notifier-flush.timer" \
		"-rw-r--r-- root/root ./lib/systemd/system/notifier.socket" \
		"-rw-r--r-- root/root ./lib/systemd/system/notifier.service"; do
		check "deb: holds ${want##* } ${want%% *}" has_line "$listing" "$want"
	done
	check "deb: does not ship /var/lib/notifier (postinst makes it)" lacks "$listing" /var/lib/notifier
	for want in \
		"-rw-r--r-- root/root ./usr/share/doc/notifier/copyright" \
		"-rw-r--r-- root/root ./usr/share/doc/notifier/changelog.Debian.gz" \
		"-rw-r--r-- root/root ./usr/share/man/man1/notifier.1.gz" \
		"-rw-r--r-- root/root ./usr/share/lintian/overrides/notifier"; do
		check "deb: holds ${want##* } ${want%% *}" has_line "$listing" "$want"
	done

	dpkg-deb -e "$deb" "$tmp/deb.control"
	check "deb: conffiles lists /etc/notifier/notifier.yaml" \
		has_line "$(cat "$tmp/deb.control/conffiles" 2>/dev/null)" /etc/notifier/notifier.yaml
	for s in postinst prerm postrm; do
		check "deb: $s present and executable" test -x "$tmp/deb.control/$s"
	done
	check "deb: postinst sets up /var/lib/notifier for haclient" \
		grep -q 'getent group haclient' "$tmp/deb.control/postinst"
	check "deb: postinst enables the flush timer" \
		grep -q 'systemctl enable --now notifier-flush.timer' "$tmp/deb.control/postinst"
	check "deb: postinst makes the engine's user and enables its socket" \
		sh -c 'grep -q "useradd --system" "$1" && grep -q "systemctl enable --now notifier.socket" "$1"' - "$tmp/deb.control/postinst"
	check "deb: maintainer scripts parse (sh -n)" \
		sh -c 'for f; do sh -n "$f" || exit 1; done' - "$tmp"/deb.control/{postinst,prerm,postrm}

	mkdir "$tmp/deb.root"
	dpkg-deb -x "$deb" "$tmp/deb.root"
	check "deb: notifier.yaml is policies/default.yaml" \
		cmp "$tmp/deb.root/etc/notifier/notifier.yaml" policies/default.yaml
	for u in $units; do
		check "deb: $u is examples/systemd/$u" cmp "$tmp/deb.root/lib/systemd/system/$u" "examples/systemd/$u"
	done
	if command -v systemd-analyze >/dev/null; then
		check "deb: systemd-analyze verify $units (silent)" verify_units "$tmp/deb.root"
	elif [ "${CI:-}" = true ]; then
		fail "deb: units not verified: systemd-analyze is not installed (apt-get install systemd; .ci/run does)"
	else
		echo "SKIP deb: units not verified: systemd-analyze is not installed (apt-get install systemd)"
	fi
	check "deb: /usr/bin/notifier is statically linked" static "$tmp/deb.root/usr/bin/notifier"
	check "deb: /usr/bin/notifier runs (notifier version)" "$tmp/deb.root/usr/bin/notifier" version
	check "deb: /usr/bin/notifier-drop is statically linked" static "$tmp/deb.root/usr/bin/notifier-drop"
	check "deb: /usr/bin/notifier-engine is statically linked" static "$tmp/deb.root/usr/bin/notifier-engine"
	check "deb: notifier-drop(1) is notifier(1)" \
		equal "$(readlink "$tmp/deb.root/usr/share/man/man1/notifier-drop.1.gz")" notifier.1.gz
	# The examples README.md points to, as the repository has them.
	check "deb: /usr/share/doc/notifier/examples is examples/ (but demo/)" same_examples "$tmp/deb.root/usr/share/doc/notifier/examples"
	check "deb: copyright is machine-readable (DEP-5) and names notifier's terms" \
		grep -qx 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' "$tmp/deb.root/usr/share/doc/notifier/copyright"
	check "deb: the unit files name no issue numbers" \
		sh -c '! grep -in "issue [0-9]" "$@"' - "$tmp"/deb.root/lib/systemd/system/*
	if command -v lintian >/dev/null; then
		# lintian warns that it runs as root, on stderr: only its tags are kept.
		check "deb: lintian (errors and warnings fail; overrides: packaging/lintian-overrides)" \
			sh -c 'out=$(lintian --fail-on error,warning "$1" 2>/dev/null); rc=$?; printf "%s\n" "$out"; exit $rc' - "$deb"
	elif [ "${CI:-}" = true ]; then
		fail "deb: lintian not run: lintian is not installed (apt-get install lintian; e2e/setup.sh does)"
	else
		echo "SKIP deb: lintian not run: lintian is not installed (apt-get install lintian)"
	fi
fi

# --- rpm --------------------------------------------------------------
if [ -n "$install_rpm" ] && ! { command -v rpm && command -v cpio; } >/dev/null; then
	echo "installing rpm and cpio (apt-get install) to check the .rpm"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rpm cpio >/dev/null
fi
if ! rpmfile=$(one "$dist/notifier-*.rpm"); then
	fail "rpm: one package in $dist" "$(one "$dist/notifier-*.rpm" 2>&1)"
elif ! command -v rpm >/dev/null; then
	pass "rpm: one package in $dist ($(basename "$rpmfile"), $(stat -c %s "$rpmfile") bytes)"
	if [ "${CI:-}" = true ]; then # in CI a missing tool is a failure, never a silent skip
		fail "rpm: contents not checked: rpm is not installed (--install-rpm-tools installs it)"
	else
		echo "SKIP rpm: contents not checked: rpm is not installed (--install-rpm-tools installs it)"
	fi
else
	pass "rpm: one package in $dist ($(basename "$rpmfile"), $(stat -c %s "$rpmfile") bytes)"
	q() { rpm -qp --nosignature "$@" "$rpmfile" 2>/dev/null; }
	check "rpm: Name is notifier" equal "$(q --qf '%{NAME}')" notifier
	if [ -n "${NOTIFIER_VERSION:-}" ]; then
		check "rpm: Version is \$NOTIFIER_VERSION" equal "$(q --qf '%{VERSION}')" "$NOTIFIER_VERSION"
	fi
	# rpm adds its own rpmlib() capabilities and /bin/sh for the scriptlets.
	check "rpm: requires nothing but rpmlib and /bin/sh" \
		test -z "$(q -R | grep -v -e '^rpmlib(' -e '^/bin/sh$')"
	# mode, user, group, config flags (c = config, n = noreplace), path
	files=$(q --qf '[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]')
	for want in \
		"-rwxr-xr-x root root  /usr/bin/notifier" \
		"-rwxr-xr-x root root  /usr/bin/notifier-drop" \
		"-rwxr-xr-x root root  /usr/bin/notifier-engine" \
		"-rw-r--r-- root root cn /etc/notifier/notifier.yaml" \
		"-rw-r--r-- root root  /usr/lib/systemd/system/notifier-flush.service" \
		"-rw-r--r-- root root  /usr/lib/systemd/system/notifier-flush.timer" \
		"-rw-r--r-- root root  /usr/lib/systemd/system/notifier.socket" \
		"-rw-r--r-- root root  /usr/lib/systemd/system/notifier.service"; do
		check "rpm: holds ${want##* } ${want%% *}" has_line "$files" "$want"
	done
	for want in /usr/share/doc/notifier/copyright /usr/share/man/man1/notifier.1.gz \
		/usr/share/doc/notifier/examples/systemd/notifier-flush.service; do
		check "rpm: holds $want" grep -q " $want\$" <<<"$files"
	done
	check "rpm: config files are /etc/notifier/notifier.yaml" equal "$(q -c)" /etc/notifier/notifier.yaml
	scripts=$(q --scripts)
	for s in 'postinstall scriptlet' 'preuninstall scriptlet' 'postuninstall scriptlet'; do
		check "rpm: has a $s" grep -q "^$s" <<<"$scripts"
	done
	if command -v rpm2cpio >/dev/null && command -v cpio >/dev/null; then
		mkdir "$tmp/rpm.root"
		abs=$(realpath "$rpmfile")
		(cd "$tmp/rpm.root" && rpm2cpio "$abs" | cpio -idm --quiet --no-absolute-filenames 2> >(grep -v "Removing leading" >&2))
		check "rpm: notifier.yaml is policies/default.yaml" \
			cmp "$tmp/rpm.root/etc/notifier/notifier.yaml" policies/default.yaml
		check "rpm: /usr/bin/notifier is statically linked" static "$tmp/rpm.root/usr/bin/notifier"
		check "rpm: /usr/bin/notifier-drop is statically linked" static "$tmp/rpm.root/usr/bin/notifier-drop"
		check "rpm: /usr/bin/notifier-engine is statically linked" static "$tmp/rpm.root/usr/bin/notifier-engine"
		for u in $units; do
			check "rpm: $u is examples/systemd/$u" cmp "$tmp/rpm.root/usr/lib/systemd/system/$u" "examples/systemd/$u"
		done
	else
		if [ "${CI:-}" = true ]; then
			fail "rpm: file contents not compared: no rpm2cpio/cpio"
		else
			echo "SKIP rpm: file contents not compared: no rpm2cpio/cpio"
		fi
	fi
fi

if [ "$failed" -ne 0 ]; then
	echo "packaging/check.sh: FAILED"
	exit 1
fi
echo "packaging/check.sh: all checks passed"
