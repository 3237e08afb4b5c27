#!/usr/bin/env bash
# changelog.sh VERSION — the .deb's changelog.Debian (uncompressed; the Makefile gzips it): one
# entry for VERSION, the package's full version (NOTIFIER_VERSION-1), dated SOURCE_DATE_EPOCH
# (the last commit) so that a rebuild is byte-identical, signed by the package's Maintainer.
# notifier has no release history of its own yet: the entry names the commit, whose git log is
# the change history.
set -euo pipefail
version=${1:?usage: changelog.sh VERSION}
maintainer=$(sed -n 's/^maintainer: *//p' "$(dirname "$0")/nfpm.yaml")
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
date=$(LC_ALL=C date -u -R -d "@${SOURCE_DATE_EPOCH:-0}")
cat <<ENTRY
notifier ($version) unstable; urgency=medium

  * Built from git commit $commit; its git log is the list of changes.

 -- $maintainer  $date
ENTRY
