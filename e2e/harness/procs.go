package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is one component of the local control plane, started by the
// harness as a process of its own (in its own process group, so that its
// children stop with it), logging to LogPath.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

// Start runs bin with args, its standard output and error appended to
// logDir/<name>.log. It returns once the process has started; Ready and
// Stop follow it.
func Start(name, bin string, args []string, logDir string, env ...string) (*Process, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(localEnv(), env...)
	// Its own process group, so its children stop with it; killed if the
	// harness dies, so that no component outlives it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// localEnv is the harness's environment without proxy settings: every
// component talks to loopback only, and an API server that inherited a
// proxy would send its webhook and aggregation calls to it.
func localEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Ready polls probe every 200 ms until it returns nil, the process exits
// (an error naming its log) or ctx ends (the probe's last error).
func (p *Process) Ready(ctx context.Context, probe func() error) error {
	var last error
	for {
		if last = probe(); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before it was ready; see %s", p.Name, p.err, p.LogPath)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %v; see %s", p.Name, last, p.LogPath)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM to the process group, and SIGKILL after grace; it
// returns once the process has exited. It is safe to call twice.
func (p *Process) Stop(grace time.Duration) {
	if ok, _ := p.Exited(); ok {
		return
	}
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-p.done
	}
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ErrMissingBinary is returned by Binaries.Check for a binary that was not
// built.
var ErrMissingBinary = errors.New("missing binary")

// Leftovers returns "name (pid N)" for each running process whose
// executable is in dir (the binaries of Binaries.Dir), read from /proc:
// after every cluster stopped, there should be none. A process whose
// executable cannot be read (another user's, or gone meanwhile) is not
// one of the harness's.
func Leftovers(dir string) []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || filepath.Dir(exe) != filepath.Clean(dir) {
			continue
		}
		out = append(out, fmt.Sprintf("%s (pid %d)", filepath.Base(exe), pid))
	}
	return out
}
