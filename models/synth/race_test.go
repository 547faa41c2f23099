//go:build race

package synth

const raceSlowdown = 10
