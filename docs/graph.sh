#!/usr/bin/env bash
# The package graph of docs/ARCHITECTURE.md, from go list: one line per
# package of the product (not bench/, examples/, tests), and what it
# imports from this module. Usage: docs/graph.sh   (or make graph)
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
go list -f '{{.ImportPath}}{{range .Imports}} {{.}}{{end}}' ./... |
    while read -r pkg imports; do
        case $pkg in "$mod"/bench/* | "$mod"/examples/* | "$mod"/internal/apitest | "$mod"/internal/harness | "$mod"/internal/redistest | "$mod"/internal/testreport | */storetest) continue ;; esac
        own=$(for i in $imports; do case $i in "$mod"/*) printf '%s ' "${i#"$mod"/}" ;; esac; done)
        printf '%-32s <- %s\n' "${pkg#"$mod"/}" "${own:-(nothing)}"
    done
