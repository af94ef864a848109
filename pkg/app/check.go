package app

import (
	"errors"

	"github.com/ppwatch/ppwatch/pkg/alerting"
	"github.com/ppwatch/ppwatch/pkg/config"
	"github.com/ppwatch/ppwatch/pkg/web"
)

// ErrConfig marks what Check found: a setting the admin must change.
var ErrConfig = errors.New("configuration")

// Check makes every check of a loaded cfg that Run makes before it
// serves, without opening the state file, listening or reading (the
// listen address was checked with the file, and flags by main): those of
// CheckHost, then that the classification rules and the alert rules and
// targets build. check-config runs it, so a config it passes does not fail
// at start. It reports every problem, not the first.
func Check(cfg *config.Config, webConfigFile string) error {
	errs := []error{CheckHost(cfg, webConfigFile)}
	if _, err := cfg.NewClassifier(); err != nil {
		errs = append(errs, err)
	}
	if err := alerting.Check(cfg); err != nil {
		errs = append(errs, err)
	}
	return asConfigError(errors.Join(errs...))
}

// CheckHost makes the checks of cfg against this host: the state file's
// directory and the web config file. Unlike Check, it holds for a cfg with errors of its
// own (config.Inspect's), so check-config reports these beside them.
func CheckHost(cfg *config.Config, webConfigFile string) error {
	var errs []error
	if _, err := stateFile(cfg); err != nil {
		errs = append(errs, err)
	}
	if err := web.CheckConfigFile(webConfigFile); err != nil {
		errs = append(errs, err)
	}
	return asConfigError(errors.Join(errs...))
}

// configError is Check's error: its text is the problems', and it is
// ErrConfig.
type configError struct{ error }

func (configError) Is(target error) bool { return target == ErrConfig }

func asConfigError(err error) error {
	if err == nil {
		return nil
	}
	return configError{err}
}
