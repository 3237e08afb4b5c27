package main

import (
	"errors"
	"fmt"
	"io"

	"notifier/engine/pipeline"
)

// Exit codes (README.md, "Exit codes"): 0 ok; 1 a problem found (lint, test failure,
// delivery failed); 2 usage, config or input error.
const (
	exitOK      = 0
	exitProblem = 1
	exitUsage   = 2
)

// exitError carries the exit code decided where the failure is understood;
// main maps it to the process status in one place.
type exitError struct {
	code int
	err  error // nil: the command already printed what it had to say
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func configErr(err error) error { return &exitError{code: exitUsage, err: err} }

func inputErr(err error) error { return &exitError{code: exitUsage, err: err} }

// problemErr is exit 1 with a message: a problem found (state unusable,
// a delivery given up), not a mistake in how the command was called.
func problemErr(err error) error { return &exitError{code: exitProblem, err: err} }

// problemsFound is exit 1 after the command printed its findings.
func problemsFound() error { return &exitError{code: exitProblem} }

// exitCode prints err (if it has text) to stderr and returns the status.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	code := exitProblem
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
	}
	fmt.Fprintf(stderr, "notifier: %v\n", err)
	return code
}

// reportExit is the exit status of a run: 1 when something needs a
// person (a rule failed, the state was unusable, a delivery was given
// up, a channel cannot be built ...), though nothing was lost. The
// pipeline has already said each on stderr, as it happened.
func reportExit(r *pipeline.Report) error {
	if !r.OK() {
		return problemsFound()
	}
	return nil
}
