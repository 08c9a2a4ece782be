// Package bench holds Hookflow's benchmarks: Go benchmarks of the hot paths,
// run with `go test -bench`, and (with the ingress) a load generator. Results
// and the commands that reproduce them are in README.md.
package bench
