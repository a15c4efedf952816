package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/granarycdp/cdp/wecomops"
)

// settingPairs reads a setting of name=value items separated by ';',
// handing each to put; errors name the setting (and the item's name,
// never its value: values may hold keys).
func settingPairs(setting, list string, put func(name, value string) error) error {
	for _, item := range strings.Split(list, ";") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, "=")
		if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(value) == "" {
			return fmt.Errorf("%s: %q is not name=value", setting, item)
		}
		if err := put(strings.TrimSpace(name), strings.TrimSpace(value)); err != nil {
			return fmt.Errorf("%s: %s: %w", setting, name, err)
		}
	}
	return nil
}

// lossAlerts reads the loss-alert settings into the wecomops options
// they set: CDP_WECOM_LOSS_ROBOT, the group robot's webhook URL (with its
// key; https, or loopback http with CDP_ALLOW_LOOPBACK_HTTP), and
// CDP_WECOM_MANAGERS, staff=manager pairs ('*' for everyone not named),
// each staff member once. Managers without a robot are refused: they
// would silently alert nobody. Errors name the setting.
func lossAlerts(cfg config) (wecomops.Options, error) {
	var o wecomops.Options
	if u := strings.TrimSpace(cfg.WeComLossRobot); u != "" {
		if !strings.Contains(u, "key=") {
			return o, errors.New("CDP_WECOM_LOSS_ROBOT: want the robot's webhook URL with its key")
		}
		if err := outboundURL(u, cfg.AllowLoopbackHTTP); err != nil {
			return o, fmt.Errorf("CDP_WECOM_LOSS_ROBOT: %w", err)
		}
		o.LossRobotURL = u
	}
	managers := map[string]string{}
	err := settingPairs("CDP_WECOM_MANAGERS", cfg.WeComManagers, func(staff, manager string) error {
		if _, dup := managers[staff]; dup {
			return errors.New("named twice")
		}
		if strings.ContainsAny(staff+manager, " ,|") {
			return errors.New("a userid has a space, ',' or '|'")
		}
		managers[staff] = manager
		return nil
	})
	switch {
	case err != nil:
		return o, err
	case len(managers) > 0 && o.LossRobotURL == "":
		return o, errors.New("CDP_WECOM_MANAGERS: set CDP_WECOM_LOSS_ROBOT too: without a robot no manager is alerted")
	case len(managers) > 0:
		o.Managers = managers
	}
	return o, nil
}
