package main

import (
	"context"
	"fmt"
	"os"
)

func migrate(ctx context.Context, cfg *Config, args []string) error {
	if len(args) != 1 || (args[0] != "up" && args[0] != "down" && args[0] != "status") {
		return fmt.Errorf("usage: gatehouse migrate up|down|status")
	}
	s, err := openStoreUnmigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	lines, err := s.Migrate(ctx, args[0])
	for _, l := range lines {
		fmt.Fprintln(os.Stdout, l)
	}
	if err == nil && len(lines) == 0 {
		fmt.Fprintln(os.Stdout, "nothing to do: the schema is current")
	}
	return err
}
