// Package engine compiles a policy's rules and windows (expr-lang/expr)
// and evaluates one event against them: Evaluate(event) -> Decision, which
// rules matched and which channels must hear about it. It does no I/O and
// knows nothing about concrete channels, stores or where events come
// from: the YAML front end is engine/policy, the event engine/event, the
// decoders engine/cmon and engine/pacemaker, state engine/state, and one
// event end to end engine/pipeline (docs/ARCHITECTURE.md).
//
// Compile is a run's load: it reports only what makes a policy unusable,
// so a new lint check can never stop a policy that is running. Lint runs
// every check, for `notifier lint` and the commands that print problems.
// Every evaluation runs within a step and a time budget (budget.go).
package engine
