package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gatehouse/gatehouse/tenants"
)

// adminCmd manages operators: `gatehouse admin grant EMAIL` gives an
// existing account the platform role (DESIGN §12), through the account
// service the composition root builds for every surface.
func adminCmd(ctx context.Context, cfg *Config, args []string, out io.Writer) error {
	if len(args) != 2 || args[0] != "grant" {
		return fmt.Errorf("usage: gatehouse admin grant EMAIL")
	}
	env, err := openCLIEnv(ctx, cfg, out)
	if err != nil {
		return err
	}
	defer env.Close()
	ctx = tenants.WithRequestInfo(ctx, tenants.RequestInfo{Actor: "cli"})
	a, err := env.deps.Accounts.GrantOperator(ctx, args[1])
	if errors.Is(err, tenants.ErrNotFound) {
		return fmt.Errorf("no account with the email %s: the person signs up first", args[1])
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s is an operator\n", a.Email)
	return nil
}
