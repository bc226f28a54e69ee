package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

const defaultAddr = "redis:6379"

type config struct {
	addr     string
	password string
	db       int
	queue    string
	lease    time.Duration
	wait     time.Duration
	workTime time.Duration
	retryFor time.Duration
	command  []string
}

// parseConfig reads flags, falling back on the environment for the server.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	var leaseSecs, waitSecs int
	fs := flag.NewFlagSet("rediswq-worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "redis", "", "Redis `host:port`; default from $REDIS_HOST, else the redis Service's $REDIS_SERVICE_HOST and $REDIS_SERVICE_PORT, else "+defaultAddr)
	fs.StringVar(&c.password, "password", "", "Redis password; default $REDIS_PASSWORD")
	fs.IntVar(&c.db, "db", 0, "Redis database number")
	fs.StringVar(&c.queue, "queue", "job2", "name of the Redis list holding the work items")
	fs.IntVar(&leaseSecs, "lease", 10, "lease duration in seconds; renewed while an item is being processed")
	fs.IntVar(&waitSecs, "wait", 2, "seconds to wait for an item before checking again whether the queue is empty")
	fs.DurationVar(&c.workTime, "work-time", 10*time.Second, "how long processing one item takes when no command is given")
	fs.DurationVar(&c.retryFor, "retry-for", time.Minute, "how long to keep retrying while Redis is unreachable before failing")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.command = fs.Args()
	if leaseSecs <= 0 {
		return c, fmt.Errorf("-lease must be positive, got %d", leaseSecs)
	}
	if waitSecs < 0 {
		return c, fmt.Errorf("-wait must not be negative, got %d", waitSecs)
	}
	if c.queue == "" {
		return c, fmt.Errorf("-queue must not be empty")
	}
	c.lease = time.Duration(leaseSecs) * time.Second
	c.wait = time.Duration(waitSecs) * time.Second
	if c.addr == "" {
		c.addr = addrFromEnv(getenv)
	}
	if c.password == "" {
		c.password = getenv("REDIS_PASSWORD")
	}
	return c, nil
}

// addrFromEnv finds the server the way a pod would: an explicit $REDIS_HOST
// (host or host:port), then the variables Kubernetes sets for a Service named
// redis, then the Service's DNS name.
func addrFromEnv(getenv func(string) string) string {
	port := getenv("REDIS_SERVICE_PORT")
	if port == "" {
		port = "6379"
	}
	if h := strings.TrimSpace(getenv("REDIS_HOST")); h != "" {
		if _, _, err := net.SplitHostPort(h); err == nil {
			return h
		}
		return net.JoinHostPort(h, port)
	}
	if h := getenv("REDIS_SERVICE_HOST"); h != "" {
		return net.JoinHostPort(h, port)
	}
	return defaultAddr
}
