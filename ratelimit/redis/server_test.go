package redis_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/connectware/connectware/internal/testkit"
)

// redisServer is a real redis-server on a loopback port, owned by one test.
type redisServer struct {
	tb   testing.TB
	path string
	port int
	cmd  *exec.Cmd
}

// startRedis starts redis-server on a free loopback port, without
// persistence; it is killed when the test ends.
func startRedis(tb testing.TB) *redisServer {
	tb.Helper()
	path := testkit.NeedTool(tb, "redis-server", "install the redis-server package (apt-get install redis-server)")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := &redisServer{tb: tb, path: path, port: port}
	s.start()
	tb.Cleanup(s.kill)
	return s
}

func (s *redisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start runs redis-server and waits until it answers PING.
func (s *redisServer) start() {
	s.tb.Helper()
	s.cmd = exec.Command(s.path, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ping(s.Addr())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("redis-server on port %d did not answer: %v", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping sends PING on a connection of its own. It does not use go-redis,
// whose pool, after a few failed dials (as while the server starts), keeps
// a goroutine probing for a second after the client is closed.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(conn, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// kill stops redis-server at once (SIGKILL); it is safe to call twice.
func (s *redisServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // in case it was paused
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// pause freezes redis-server (SIGSTOP): connections stay open and requests
// get no answer, the worst case for a client.
func (s *redisServer) pause() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// resume undoes pause.
func (s *redisServer) resume() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

func (s *redisServer) client(tb testing.TB) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: 1})
	tb.Cleanup(func() {
		_ = c.Close()
		waitDialProbes()
	})
	return c
}

// waitDialProbes waits (up to three seconds) until no go-redis pool is
// probing a dead server. After as many failed dials as its pool size, a
// go-redis pool starts a goroutine that dials once a second until it
// succeeds or sees the pool closed, so it can outlive Close by a second;
// waiting here keeps goleak's check in TestMain about our own goroutines.
func waitDialProbes() {
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("pool.(*ConnPool).tryDial")) {
			return
		}
	}
}
