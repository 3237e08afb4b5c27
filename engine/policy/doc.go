// Package policy is the YAML front end of a policy: it reads the files,
// decodes them strictly (unknown keys, duplicate keys, wrong types are
// errors at their line and column), expands aliases, honours
// `# notifier:ignore` directives, runs the lint checks that need no
// compiled expression, and describes the format as a JSON Schema. Its
// output is specs with positions (Parsed) and Problems; engine compiles
// the specs. It imports neither engine nor expr.
package policy
