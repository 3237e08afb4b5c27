#!/bin/sh
# Prints the package version for a `git describe --tags --always --dirty`
# string (the Makefile's VERSION), given as $1 or, without it, asked of git.
# dpkg and rpm order versions; git describe's output is not one they can
# order (or even accept: rpm forbids '-', dpkg wants a leading digit):
#
#   v1.2.3                 -> 1.2.3
#   v1.2.3-rc1             -> 1.2.3~rc1                 (before 1.2.3)
#   v1.2.3-4-gabc1234      -> 1.2.3+git4.gabc1234       (after 1.2.3, before 1.2.4)
#   v1.2.3-4-gabc1234-dirty-> 1.2.3+git4.gabc1234.dirty
#   abc1234 (no tag yet)   -> 0.0.0~gitabc1234          (before any release)
#   dev (no git)           -> 0.0.0~dev
#
# Both the deb and the rpm get this string unchanged (nfpm.yaml has
# version_schema: none), so `dpkg -l` and `rpm -q` show the same version.
set -eu

v=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
v=${v#v}

dirty=
case $v in
*-dirty) v=${v%-dirty} dirty=.dirty ;;
esac

is() { printf '%s\n' "$v" | grep -Eq -- "$1"; }

if [ "$v" = dev ]; then
	v=0.0.0~dev
elif is '^[0-9a-f]{4,}$'; then
	v=0.0.0~git$v # an abbreviated commit: no tag yet
elif is '^[0-9]'; then
	# A tag, possibly followed by -<commits since>-g<sha>.
	tag=$v after=
	if is '-[0-9]+-g[0-9a-f]+$'; then
		sha=${v##*-} rest=${v%-*}
		tag=${rest%-*} after=+git${rest##*-}.$sha
	fi
	# A pre-release tag (v1.2.3-rc1) sorts before its release: '~'.
	case $tag in
	*-*) tag="${tag%%-*}~${tag#*-}" ;;
	esac
	v=$tag$after
else
	v=0.0.0~$v # a tag that is not a version: before any release
fi

# Whatever else a tag held: only what both dpkg and rpm accept.
printf '%s%s\n' "$v" "$dirty" | sed 's/[^A-Za-z0-9.+~]/./g'
