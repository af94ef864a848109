package cli

import (
	"errors"
	"flag"
	"fmt"

	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/ingest"
	"github.com/ppwatch/ppwatch/pkg/store"
)

// unusableError is a state file the daemon would refuse: exit 2, as the
// daemon's own. The message is the store's, which names the file.
type unusableError struct{ error }

func (e *unusableError) Unwrap() error { return e.error }

func runState(args []string, env Env) error {
	if len(args) == 0 {
		return usagef("state: give check or repair (run \"ppwatch help\")")
	}
	switch args[0] {
	case "check":
		return runStateCheck(args[1:], env)
	case "repair":
		return runStateRepair(args[1:], env)
	}
	return usagef("state: unknown command %q (use check or repair)", args[0])
}

// stateFile is the FILE argument, else the config's state_file, else the
// daemon's default.
func stateFile(fs *flag.FlagSet, args []string, configFile *string) (string, error) {
	files, err := parseFlags(fs, args)
	if err != nil {
		return "", err
	}
	switch {
	case len(files) > 1:
		return "", usagef("%s: give one state file", fs.Name())
	case len(files) == 1:
		return files[0], nil
	case *configFile != "":
		cfg, err := config.Load(*configFile)
		if err != nil {
			return "", usagef("%v", err)
		}
		if cfg.StateFile != "" {
			return cfg.StateFile, nil
		}
	}
	return config.DefaultStateFile(), nil
}

// unusable gives the errors the daemon exits 2 for the same exit code.
func unusable(err error) error {
	if errors.Is(err, store.ErrDamaged) || errors.Is(err, store.ErrNotStore) || errors.Is(err, store.ErrSchema) {
		return &unusableError{err}
	}
	return err
}

func runStateCheck(args []string, env Env) error {
	fs := newFlagSet("state check", env)
	configFile := fs.String("config", "", "configuration `file` whose state_file to check")
	path, err := stateFile(fs, args, configFile)
	if err != nil {
		return err
	}
	r, err := store.Check(path, store.Options{CheckPosition: ingest.CheckPosition})
	if r != nil && r.PageSize > 0 {
		fmt.Fprint(env.Stdout, r.Summary())
	}
	if err != nil {
		return unusable(err)
	}
	fmt.Fprintf(env.Stdout, "%s: ok\n", path)
	return nil
}

func runStateRepair(args []string, env Env) error {
	fs := newFlagSet("state repair", env)
	configFile := fs.String("config", "", "configuration `file` whose state_file to repair")
	out := fs.String("out", "", "the new state `file` (default: FILE.repaired)")
	path, err := stateFile(fs, args, configFile)
	if err != nil {
		return err
	}
	to := *out
	if to == "" {
		to = path + ".repaired"
	}
	rep, err := store.Repair(path, to, store.Options{CheckPosition: ingest.CheckPosition})
	if rep != nil {
		fmt.Fprint(env.Stdout, rep.Summary())
	}
	if err != nil {
		return unusable(err)
	}
	fmt.Fprintf(env.Stdout, "written:  %s\nto use it, stop ppwatch, then:\n  mv %s %s.damaged\n  mv %s %s\nand start ppwatch again.\n",
		to, path, path, to, path)
	return nil
}
