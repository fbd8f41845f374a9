package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"strings"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// The console user commands: create, list, disable, password, and add to or
// remove from an application. A user is named by --user (an id or an
// email, in any case), or by --id or --email.

// userJSON is how the commands print a console user.
func userJSON(u kycreview.ConsoleUser) map[string]any {
	var disabled any
	if u.DisabledAt != nil {
		disabled = kycreview.FormatMicro(*u.DisabledAt)
	}
	return map[string]any{
		"user_id": u.ID, "email": u.Email, "full_name": u.FullName,
		"created_at": kycreview.FormatMicro(u.CreatedAt), "disabled_at": disabled,
	}
}

// readPassword reads a password from the first line of r (a pipe or a
// file, so it never shows in the process list or the shell's history).
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", &usageError{"--password-stdin: no password on standard input"}
	}
	return pw, nil
}

func usersCreate(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("users create", &cfg)
	app := fs.String("app", "", "application id the user joins (optional)")
	email := fs.String("email", "", "email address")
	name := fs.String("name", "", "full name")
	pwStdin := fs.Bool("password-stdin", false, "read the console password from the first line of standard input")
	if err := parseFlags(fs, args, "email", "name"); err != nil {
		return err
	}
	in := service.UserInput{Email: *email, FullName: *name, AppID: *app}
	if *pwStdin {
		pw, err := readPassword(os.Stdin)
		if err != nil {
			return err
		}
		in.Password = pw
	}
	return withService(ctx, cfg, func(svc *service.Service) error {
		u, err := svc.CreateUser(ctx, in)
		if err != nil {
			return err
		}
		out := userJSON(u)
		out["application_id"] = nil
		if *app != "" {
			out["application_id"] = *app
		}
		out["password_set"] = in.Password != ""
		return printJSON(stdout, out)
	})
}

func usersList(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("users list", &cfg)
	app := fs.String("app", "", "only this application's members")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return withService(ctx, cfg, func(svc *service.Service) error {
		list, err := svc.ConsoleUsers(ctx, *app)
		if err != nil {
			return err
		}
		users := make([]map[string]any, 0, len(list))
		for _, l := range list {
			u := userJSON(l.User)
			u["applications"] = l.Applications
			users = append(users, u)
		}
		return printJSON(stdout, map[string]any{"count": len(users), "users": users})
	})
}

// userRef reads the --user, --id or --email flags: exactly one of them.
func userRef(fsName string, user, id, email string) (string, error) {
	var refs []string
	for _, r := range []string{user, id, email} {
		if strings.TrimSpace(r) != "" {
			refs = append(refs, r)
		}
	}
	if len(refs) != 1 {
		return "", &usageError{fsName + ": name the user with one of --user, --id or --email"}
	}
	return refs[0], nil
}

func usersDisable(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("users disable", &cfg)
	user := fs.String("user", "", "user id or email")
	id := fs.String("id", "", "user id")
	email := fs.String("email", "", "user email")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ref, err := userRef(fs.Name(), *user, *id, *email)
	if err != nil {
		return err
	}
	return withService(ctx, cfg, func(svc *service.Service) error {
		u, skipped, err := svc.DisableConsoleUser(ctx, ref)
		if err != nil {
			return err
		}
		out := userJSON(u)
		out["notifications_skipped"] = skipped
		return printJSON(stdout, out)
	})
}

func usersPassword(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("users password", &cfg)
	user := fs.String("user", "", "user id or email")
	fs.Bool("password-stdin", true, "read the new password from the first line of standard input (the only way)")
	if err := parseFlags(fs, args, "user"); err != nil {
		return err
	}
	pw, err := readPassword(os.Stdin)
	if err != nil {
		return err
	}
	return withService(ctx, cfg, func(svc *service.Service) error {
		if err := svc.SetPassword(ctx, *user, pw); err != nil {
			return err
		}
		u, err := svc.ConsoleUser(ctx, *user)
		if err != nil {
			return err
		}
		out := userJSON(u)
		out["password_set"] = true
		return printJSON(stdout, out)
	})
}

// usersMembership runs users add (join) or users remove.
func usersMembership(ctx context.Context, cfg config, args []string, stdout io.Writer, join bool) error {
	name := "users remove"
	if join {
		name = "users add"
	}
	fs := newFlags(name, &cfg)
	app := fs.String("app", "", "application id")
	user := fs.String("user", "", "user id or email")
	if err := parseFlags(fs, args, "app", "user"); err != nil {
		return err
	}
	return withService(ctx, cfg, func(svc *service.Service) error {
		var u kycreview.ConsoleUser
		var err error
		if join {
			u, err = svc.AddMember(ctx, *app, *user)
		} else {
			u, err = svc.RemoveMember(ctx, *app, *user)
		}
		if err != nil {
			return err
		}
		out := userJSON(u)
		out["application_id"], out["member"] = *app, join
		return printJSON(stdout, out)
	})
}
