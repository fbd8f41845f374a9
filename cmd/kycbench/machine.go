package main

import (
	"os"
	"runtime"
	"strconv"
	"strings"
)

// machine describes where a run happened: figures from different machines,
// or from one machine under different load, are not comparable.
type machine struct {
	NProc       int    `json:"nproc"`
	GOMAXPROCS  int    `json:"gomaxprocs"`
	GoVersion   string `json:"go_version"`
	Platform    string `json:"platform"`
	CPUModel    string `json:"cpu_model"`
	MemoryBytes int64  `json:"memory_bytes"`
	// LoadAverage is /proc/loadavg's 1, 5 and 15 minute averages when the
	// run started: on a shared machine, what else was running.
	LoadAverage string `json:"load_average"`
}

// readMachine describes this machine. What /proc cannot tell is left empty.
// kycbench and the servers it builds use the same toolchain and, with no
// GOMAXPROCS in the environment, the same GOMAXPROCS.
func readMachine() machine {
	m := machine{
		NProc:      runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
		CPUModel:   procField("/proc/cpuinfo", "model name"),
	}
	if kb, err := strconv.ParseInt(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 10, 64); err == nil {
		m.MemoryBytes = kb * 1024
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAverage = strings.Join(f[:3], " ")
		}
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc
// file with the given key, or "".
func procField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
