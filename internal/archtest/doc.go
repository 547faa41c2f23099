// Package archtest holds tests of the repository's shape: which package may
// import which, and that shared helpers are defined once. It has no code.
package archtest
