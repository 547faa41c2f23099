// Package cli is Likeness's headless command line, over package app.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"likeness/app"
)

// Exit codes.
const (
	ExitOK        = 0
	ExitFailed    = 1
	ExitUsage     = 2
	ExitCancelled = 130
)

type command struct {
	name, usage string
	run         func(ctx context.Context, env *env, args []string) error
}

// env is what commands write to; tests swap the streams.
type env struct {
	stdout, stderr io.Writer
	tty            bool // stderr is a terminal: draw a progress bar
}

func commands() []command {
	return []command{
		{"edit", "edit a photo (mask-guided by default; --no-mask for the baseline)", runEdit},
		{"mask", "compute the editing mask and write it as a PNG", runMask},
		{"compare", "input | mask | baseline | mask-guided [| SDEdit], with metrics; a folder runs a batch", runCompare},
		{"stickers", "all four directions of a pack as a 2x2 sheet and four stickers", runStickers},
		{"pairs", "generate training pairs with a Stable Diffusion pack (the paper's Eq. 2)", runPairs},
		{"eval", "score a pack on generated pairs (the paper's Table 1); --calibrate chooses λ and the mask options", runEval},
		{"models", "list, install, check, remove or synthesise model packs", runModels},
		{"bench", "time every phase of an edit, from creating the sessions (analytic pack, or --pack DIR)", runBench},
		{"version", "print the version", func(_ context.Context, e *env, _ []string) error {
			fmt.Fprintln(e.stdout, "likeness", app.Version)
			return nil
		}},
	}
}

// OpensWindow says whether args ask for the desktop app rather than a
// command: no arguments, or a single one that is no command and names an
// existing file (the photo to open). main opens the window then; this
// package stays headless and never links the UI.
func OpensWindow(args []string) bool {
	return len(args) == 0 || len(args) == 1 && !isCommand(args[0]) && fileExists(args[0])
}

// Main runs a command and returns the process exit code. Arguments for
// which OpensWindow is true are main's to handle: given them, Main prints
// the help or says the file is not a command.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, tty: isTerminal(os.Stderr)}, args)
}

func isCommand(s string) bool {
	for _, c := range commands() {
		if c.name == s {
			return true
		}
	}
	return s == "help" || s == "-h" || s == "--help"
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// errUsage marks a usage error (exit 2).
var errUsage = errors.New("usage")

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(e.stdout)
		return ExitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		switch {
		case err == nil:
			return ExitOK
		case errors.Is(err, flag.ErrHelp):
			return ExitOK
		case errors.Is(err, errUsage):
			fmt.Fprintf(e.stderr, "likeness %s: %v\n", c.name, err)
			return ExitUsage
		case errors.Is(err, context.Canceled) || ctx.Err() != nil:
			fmt.Fprintf(e.stderr, "likeness %s: cancelled; no partly written file was left\n", c.name)
			return ExitCancelled
		}
		fmt.Fprintf(e.stderr, "likeness %s: %v\n", c.name, err)
		return ExitFailed
	}
	if looksLikeFile(args[0]) {
		// `likeness PHOTO` opens the app (OpensWindow); here it is no file.
		if st, err := os.Stat(args[0]); err == nil && st.IsDir() {
			fmt.Fprintf(e.stderr, "likeness: %s is a folder, not a photo\n", args[0])
		} else {
			fmt.Fprintf(e.stderr, "likeness: no such file: %s\n", args[0])
		}
		return ExitFailed
	}
	fmt.Fprintf(e.stderr, "likeness: unknown command %q (see `likeness help`)\n", args[0])
	return ExitUsage
}

// looksLikeFile says whether a first argument that is no command was meant
// as a photo: it has an image extension or a path separator.
func looksLikeFile(arg string) bool {
	return isPhotoName(arg) || strings.ContainsRune(arg, '/') || strings.ContainsRune(arg, filepath.Separator)
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "Likeness: portrait editing that changes what you ask for and keeps everything else.")
	fmt.Fprintln(w, "\nUsage:\n  likeness [PHOTO]              open the desktop app\n  likeness COMMAND [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nRun `likeness COMMAND -h` for a command's flags.")
}

// newFlags makes a flag set whose errors become usage errors.
func newFlags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("likeness "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// parseFlags parses flags and leaves positional arguments to the caller;
// -h is not an error (exit 0).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageErr("%v", err)
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
