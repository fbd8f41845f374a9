// Command kycreview runs the kycreview service and administers its
// database: serve, migrate, and the apps, keys, users and webhooks commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kycreview: "+errorText(err))
		os.Exit(exitCode(err))
	}
}
