// Command sdatasync is the SData synchronization provider: `sdatasync serve`
// runs the provider.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	rpprof "runtime/pprof"
	"strings"
	"syscall"
	"time"

	"sdatasync/contracts"
	"sdatasync/sdata"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/demo"
	"sdatasync/sdata/store"
)

const usage = `sdatasync: an SData synchronization provider

Usage:
  sdatasync serve [flags]    run the provider (sdatasync serve -h for flags)
  sdatasync pass [flags]     run a sync pass between two providers (sdatasync pass -h)
  sdatasync bench [flags]    measure a full and an incremental pass between two local providers
  sdatasync user COMMAND     manage users: add, list, remove, passwd, roles (sdatasync user -h)
  sdatasync token COMMAND    manage API tokens: create, list, revoke (sdatasync token -h)

Every flag can also be set by an environment variable: --base-url is SDATASYNC_BASE_URL.
SDATASYNC_PROFILE_DIR=dir writes a CPU profile of the whole command to
dir/COMMAND-PID.prof (child processes of bench inherit it: one file each).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status (0 ok, 1
// failure, 2 usage error).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tuneGC()
	if dir := os.Getenv("SDATASYNC_PROFILE_DIR"); dir != "" {
		done, err := cpuProfile(dir, args[0])
		if err != nil {
			fmt.Fprintf(stderr, "sdatasync: SDATASYNC_PROFILE_DIR: %v\n", err)
			return 2
		}
		defer done()
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "bench":
		return bench(ctx, args[1:], stdout, stderr)
	case "pass":
		return pass(ctx, args[1:], stdout, stderr)
	case "user":
		return userCmd(ctx, args[1:], os.Stdin, stdout, stderr)
	case "token":
		return tokenCmd(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "sdatasync: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// Garbage collector defaults for a sync process: its live heap is small
// (pages are streamed) and its garbage is plentiful (one parse tree per
// entry), so the collector runs at GOGC=400 under a soft limit of 160 MiB,
// which keeps the peak well under 200 MB. GOGC and GOMEMLIMIT in the
// environment override these, as for any Go program.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 160 << 20
)

// tuneGC applies the garbage collector defaults the environment does not set.
func tuneGC() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(defaultGCPercent)
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}

// cpuProfile profiles the CPU of this process into dir/COMMAND-PID.prof
// until the returned function is called.
func cpuProfile(dir, command string) (func(), error) {
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.prof", filepath.Base(command), os.Getpid())))
	if err != nil {
		return nil, err
	}
	if err := rpprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { rpprof.StopCPUProfile(); f.Close() }, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// envDefaults applies SDATASYNC_* environment variables to flags the command
// line did not set.
func envDefaults(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := "SDATASYNC_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %v", env, v, e)
			}
		}
	})
	return err
}

type serveConfig struct {
	addr, db, app, contract, baseURL, logLevel string
	pprofAddr                                  string
	mobileComponents                           string
	datasets, pushTo                           stringList
	demo, insecureNoAuth                       bool
	priority                                   int
	maxBody                                    int64
	maxConns                                   int
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&c.db, "db", "data/sdatasync.db", "SQLite database file (created with its folder)")
	fs.StringVar(&c.app, "app", "sdatasync", "application name in URLs")
	fs.StringVar(&c.contract, "contract", "gcrm", "built-in contract name ("+strings.Join(contracts.BuiltinNames(), ", ")+") or path to an XSD")
	fs.Var(&c.datasets, "dataset", "dataset to serve (repeatable; '-' always exists)")
	fs.StringVar(&c.baseURL, "base-url", "", "externally visible base URL (default http://<addr>)")
	fs.BoolVar(&c.demo, "demo", false, "seed demo data into empty datasets, and create the user demo (admin) with a random password, printed and written to <db>.credentials")
	fs.BoolVar(&c.insecureNoAuth, "insecure-no-auth", false, "run without authentication (every request is an admin): refused unless --addr is a loopback address")
	fs.Var(&c.pushTo, "push-to", "push local changes at once (immediate sync) to this dataset or resource-kind URL of another provider (repeatable)")
	fs.IntVar(&c.priority, "conflict-priority", 5, "conflict priority (1..9, lower wins) of kinds whose contract declares none")
	fs.Int64Var(&c.maxBody, "max-body", sdata.DefaultMaxBody, "request body limit in bytes")
	fs.IntVar(&c.maxConns, "max-connections", 800, "open connections at most (more are answered 503); keep it under the open-file limit")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.mobileComponents, "mobile-components", "", "load mobile sync components (device sync) from this JSON file at start")
	fs.StringVar(&c.pprofAddr, "pprof", "", "serve Go profiling endpoints (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (off by default)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := envDefaults(fs); err != nil {
		fmt.Fprintln(stderr, "sdatasync serve:", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sdatasync serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if c.priority < 1 || c.priority > 9 {
		fmt.Fprintln(stderr, "sdatasync serve: --conflict-priority must be 1..9")
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		fmt.Fprintln(stderr, "sdatasync serve: --log-level:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := runServer(ctx, c, stdout, log); err != nil {
		log.Error("sdatasync serve failed", "err", err)
		return 1
	}
	return 0
}

func runServer(ctx context.Context, c serveConfig, stdout io.Writer, log *slog.Logger) error {
	contract, err := contracts.Open(c.contract)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	base := c.baseURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	st, err := store.OpenSQLite(ctx, c.db)
	if err != nil {
		return err
	}
	defer st.Close()
	verifier, err := serveAuth(ctx, c, st, ln.Addr(), stdout, log)
	if err != nil {
		return err
	}
	var authn auth.Authenticator // nil: --insecure-no-auth
	if verifier != nil {
		defer verifier.Close()
		authn = verifier
	}
	srv, err := sdata.New(ctx, sdata.Config{
		App: c.app, Contract: contract, Datasets: c.datasets, BaseURL: base,
		ConflictPriority: c.priority, MaxBody: c.maxBody, Logger: log, PushTo: c.pushTo, Auth: authn,
		MobileComponents: c.mobileComponents,
	}, st)
	if err != nil {
		return err
	}
	defer srv.Close()
	if c.demo {
		for _, ds := range srv.Datasets() {
			seeded, err := demo.SeedDataset(ctx, srv, ds, demo.DefaultSizes())
			if err != nil {
				return fmt.Errorf("demo data for dataset %q: %w", ds, err)
			}
			if seeded {
				log.Info("seeded demo data", "dataset", ds)
			}
		}
	}
	if c.pprofAddr != "" {
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
		pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		ps := &http.Server{Addr: c.pprofAddr, Handler: pm, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := ps.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Warn("pprof server stopped", "err", err)
			}
		}()
		defer ps.Close()
		log.Info("profiling endpoints", "url", "http://"+c.pprofAddr+"/debug/pprof/")
	}
	// Requests do not inherit the signal context: a SIGTERM stops taking
	// new requests and lets the ones in flight finish (Shutdown below)
	// before the jobs stop and the store closes (the defers above).
	reqCtx := context.WithoutCancel(ctx)
	// Headers must arrive within 10 s; bodies and answers may take as long
	// as they keep moving (sdata.Config.Stall); idle keep-alive connections
	// close after 2 minutes; at most --max-connections are open at once.
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), BaseContext: func(net.Listener) context.Context { return reqCtx }}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(sdata.CheckRequestLines(sdata.CapConnections(ln, c.maxConns))) }()
	example := base + "/sdata/" + c.app + "/" + contract.Name + "/-/"
	if k := contract.Kind("tradingAccounts"); k != nil {
		example += k.PluralName + "?count=5"
	} else if len(contract.Kinds) > 0 {
		example += contract.Kinds[0].PluralName + "?count=5"
	}
	user := ""
	if c.demo && !c.insecureNoAuth {
		user = `-u "$(cat ` + credentialsFile(c.db) + `)" `
	}
	fmt.Fprintf(stdout, "sdatasync serving %s (contract %s, datasets %s, db %s)\ntry: curl %s'%s'\n",
		base, contract.Name, strings.Join(srv.Datasets(), ","), c.db, user, example)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing the requests in flight", "grace", shutdownGrace)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		log.Warn("requests still running after the grace period are cut", "err", err)
		hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// shutdownGrace is how long a stopping server waits for the requests in
// flight before it cuts them.
const shutdownGrace = 15 * time.Second
