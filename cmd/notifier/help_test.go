package main

import (
	"strings"
	"testing"
)

// TestHelpForms: every usual way of asking for help or the version prints
// it on stdout and exits 0; nothing goes to stderr.
func TestHelpForms(t *testing.T) {
	const commandList = "commands:\n  run "
	tests := []struct {
		args []string
		want string // on stdout
	}{
		{[]string{"--help"}, commandList},
		{[]string{"-help"}, commandList},
		{[]string{"-h"}, commandList},
		{[]string{"help"}, commandList},
		{[]string{"help", "help"}, commandList},
		{[]string{"--version"}, "notifier "},
		{[]string{"-version"}, "notifier "},
		{[]string{"-v"}, "notifier "},
		{[]string{"version"}, "notifier "},
		{[]string{"silence", "-h"}, "usage: notifier silence add"},
		{[]string{"help", "silence"}, "usage: notifier silence add"},
		{[]string{"silence", "expire", "-h"}, "usage: notifier silence expire ID"},
	}
	// Every command, each way: help CMD, CMD -h, CMD -help, CMD --help.
	for cmd, want := range map[string]string{
		"run": "-source", "explain": "-event", "lint": "usage: notifier lint", "test": "usage: notifier test",
		"schema": "usage: notifier schema", "flush": "-config", "serve": "-idle", "history": "-format", "version": "notifier version",
		"silence add": "-match", "silence list": "-all",
	} {
		words := strings.Fields(cmd)
		tests = append(tests, struct {
			args []string
			want string
		}{append([]string{"help"}, words[0]), map[bool]string{true: want, false: "usage: notifier silence add"}[len(words) == 1]})
		for _, h := range []string{"-h", "-help", "--help"} {
			tests = append(tests, struct {
				args []string
				want string
			}{append(append([]string(nil), words...), h), want})
		}
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runInProcess(t, "", nil, tt.args...)
			if code != 0 || !strings.Contains(stdout, tt.want) || stderr != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q on stdout only", code, stdout, stderr, tt.want)
			}
		})
	}
}

// TestHelpErrors: asking for help about what does not exist, or a bad
// flag, is a usage error on stderr (exit 2), not help.
func TestHelpErrors(t *testing.T) {
	for _, args := range [][]string{{"help", "frobnicate"}, {"lint", "--frob"}, {"--frob"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr := runInProcess(t, "", nil, args...)
			if code != 2 || stdout != "" || stderr == "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, the usage on stderr", code, stdout, stderr)
			}
		})
	}
}

// TestPolicyMissingNamesConfig: a policy that is not where it is looked
// for says how to name another, in every command that loads one.
func TestPolicyMissingNamesConfig(t *testing.T) {
	env := []string{"NOTIFIER_CONFIG=/nonexistent-notifier/notifier.yaml", "NOTIFIER_CACHE_DIR=off", "NOTIFIER_STATE_PATH=" + t.TempDir() + "/state.db"}
	for _, args := range [][]string{{}, {"explain"}, {"flush"}, {"history"}, {"silence", "list"}, {"lint"}} {
		t.Run(strings.Join(append([]string{"notifier"}, args...), " "), func(t *testing.T) {
			code, stdout, stderr := runInProcess(t, `{"type":"alarm","action":"new","alarm":{"id":1}}`, env, args...)
			out := stdout + stderr
			how := "--config PATH or $NOTIFIER_CONFIG"
			if len(args) > 0 && args[0] == "lint" { // lint takes PATH, not --config
				how = "as PATH, or set $NOTIFIER_CONFIG"
			}
			if code != 2 || !strings.Contains(out, "/nonexistent-notifier/notifier.yaml") || !strings.Contains(out, how) {
				t.Errorf("exit %d, output %q; want 2 naming the path and %q", code, out, how)
			}
		})
	}
}
