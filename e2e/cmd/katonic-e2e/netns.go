package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// netnsEnv marks the copy of katonic-e2e that runs in its own network
// namespace.
const netnsEnv = "KATONIC_E2E_NETNS"

// inNetns runs katonic-e2e again in a new network namespace that has only a
// loopback interface, and returns its exit status: every component, server
// and client of the run is on loopback by construction, and a component
// that tries to reach anything else (an API server calling a webhook's
// Service by name, a controller resolving a public host) fails at once
// instead of leaving the machine. It needs CAP_SYS_ADMIN (root, as CI
// runs). ok is false, with the reason, when the namespace cannot be made.
func inNetns() (status int, ok bool, err error) {
	self, err := os.Executable()
	if err != nil {
		return 0, false, err
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Start(); err != nil {
		return 0, false, fmt.Errorf("a network namespace of its own: %w", err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true, nil
	}
	return 0, true, err
}

// loopbackUp brings up the loopback interface of this network namespace
// (a new namespace has it down).
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}
