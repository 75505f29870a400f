package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ronda-watch/ronda/sidecar/adapters"
)

// hookFields are the nginx-rtmp exec substitutions the hook passes on
// (https://github.com/arut/nginx-rtmp-module/wiki/Directives#exec): for
// exec_publish and exec_publish_done nginx-rtmp offers exactly $app $flashver
// $swfurl $tcurl $pageurl $addr $name $args $path $recorder, and no client id.
var hookFields = map[string]bool{"call": true, "app": true, "name": true, "addr": true, "args": true,
	"flashver": true, "swfurl": true, "tcurl": true, "pageurl": true, "path": true, "recorder": true}

// cmdHook posts one nginx-rtmp exec notification to Ronda. nginx-rtmp runs
// exec_publish and exec_publish_done asynchronously and ignores their exit
// status, so this command can neither refuse nor delay a publish; it bounds
// its own time anyway and always exits 0, logging a failure in one line.
func cmdHook(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "hook", "nginx-rtmp [flags] call=publish|publish_done app=$app name=$name addr=$addr args=$args", `
Post one nginx-rtmp notification to Ronda's /hooks/nginx-rtmp, for
nginx-rtmp's exec_publish and exec_publish_done: they run a command beside the
publish and never wait for it or read its status, so Ronda being down, slow
or misconfigured cannot refuse or delay a broadcast (on_publish can).

The form is the one nginx-rtmp's on_publish posts: call, app, name, addr, a
client id made here (exec has none: exec-<unix nanos>-<pid>, kept across this
command's retries so that a retry is a duplicate), and the publisher's
arguments ($args) as more fields. The secret goes in the X-Ronda-Secret header,
read from --secret-file or the environment variable RONDA_HOOK_SECRET, never
from the command line, which ps shows. nginx clears its workers' environment:
put "env RONDA_HOOK_SECRET;" in nginx.conf's main context to pass it through.

The whole command takes at most --timeout, retries included. It always exits 0;
a failure is one line on stderr, without the secret.`, `
  exec_publish /usr/bin/ronda hook nginx-rtmp --secret-file /etc/ronda/hook.secret
      call=publish app=$app name=$name addr=$addr args=$args;
  exec_publish_done /usr/bin/ronda hook nginx-rtmp --secret-file /etc/ronda/hook.secret
      call=publish_done app=$app name=$name addr=$addr args=$args;`)
	var (
		target, secretFile string
		timeout            time.Duration
	)
	fs.StringVar(&target, "url", "http://127.0.0.1:8080/hooks/nginx-rtmp", "Ronda's nginx-rtmp hook URL")
	fs.StringVar(&secretFile, "secret-file", "", "file holding the hook secret (default: the environment variable RONDA_HOOK_SECRET)")
	fs.DurationVar(&timeout, "timeout", 2*time.Second, "bound on the whole command, retries included")
	if len(args) == 0 || args[0] != "nginx-rtmp" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fs.Usage()
			return nil
		}
		hookFailed(e, "the first argument must be the server, nginx-rtmp")
		return nil
	}
	if err := fs.Parse(args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			hookFailed(e, "bad flags")
		}
		return nil
	}
	form, err := hookForm(fs.Args(), time.Now(), os.Getpid())
	if err != nil {
		hookFailed(e, err.Error())
		return nil
	}
	secret, err := hookSecret(secretFile, os.Getenv)
	if err != nil {
		hookFailed(e, err.Error())
		return nil
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := postHook(ctx, target, secret, form); err != nil {
		hookFailed(e, fmt.Sprintf("call=%s: %v", form.Get("call"), err))
	}
	return nil
}

// hookFailed writes the one line of a failed hook.
func hookFailed(e *env, msg string) {
	e.log.Warn("ronda hook: notification not delivered; the publish is not affected", "err", msg)
}

// hookForm builds the form nginx-rtmp's on_publish would post from the
// key=value arguments of the exec line.
func hookForm(kvs []string, now time.Time, pid int) (url.Values, error) {
	got := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !hookFields[k] {
			return nil, fmt.Errorf("argument %q is not one of call= app= name= addr= args= flashver= swfurl= tcurl= pageurl= path= recorder=", trimArg(k))
		}
		got[k] = v
	}
	switch got["call"] {
	case "publish", "publish_done":
	default:
		return nil, fmt.Errorf("call=%q: want publish or publish_done", trimArg(got["call"]))
	}
	if got["name"] == "" {
		return nil, errors.New("no name=$name")
	}
	form := url.Values{}
	for _, k := range []string{"call", "app", "name", "addr", "flashver", "swfurl", "tcurl", "pageurl", "path", "recorder"} {
		if v, ok := got[k]; ok {
			form.Set(k, v)
		}
	}
	form.Set("clientid", "exec-"+strconv.FormatInt(now.UnixNano(), 10)+"-"+strconv.Itoa(pid))
	// nginx-rtmp appends the publisher's arguments to its notify body; the
	// fields above come first, so a publisher's call= or name= cannot
	// replace them (a form's first value is the one read).
	extra, _ := url.ParseQuery(strings.TrimPrefix(got["args"], "?"))
	for k, vs := range extra {
		for _, v := range vs {
			form.Add(k, v)
		}
	}
	return form, nil
}

// trimArg shortens a key or a call for a log line.
func trimArg(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}

// hookSecret reads the secret from file, else from RONDA_HOOK_SECRET.
func hookSecret(file string, getenv func(string) string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("secret file: %w", err)
		}
		if s := strings.TrimRight(string(b), "\r\n"); s != "" {
			return s, nil
		}
		return "", fmt.Errorf("secret file %s is empty", file)
	}
	if s := getenv("RONDA_HOOK_SECRET"); s != "" {
		return s, nil
	}
	return "", errors.New("no secret: set --secret-file, or RONDA_HOOK_SECRET (with \"env RONDA_HOOK_SECRET;\" in nginx.conf)")
}

// postHook posts the form within ctx: a refused connection or a 5xx answer is
// tried again after a short pause while time is left; any 2xx is done.
func postHook(ctx context.Context, target, secret string, form url.Values) error {
	body := []byte(form.Encode())
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var last error
	for attempt := 1; attempt <= 3; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("hook URL: %w", err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(adapters.SecretHeader, secret)
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			last = fmt.Errorf("ronda answered %s", resp.Status)
			if resp.StatusCode < 500 {
				return last // a wrong secret or a bad form: trying again does not help
			}
		} else {
			if ue, ok := errors.AsType[*url.Error](err); ok {
				err = ue.Err
			}
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up after %d attempts: %w", attempt, last)
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
	return fmt.Errorf("gave up after 3 attempts: %w", last)
}
