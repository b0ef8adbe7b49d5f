package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of /proc/<pid>/stat times (USER_HZ, 100 on every
// Linux this runs on; Go has no sysconf without cgo).
const clockTick = 10 * time.Millisecond

// procSample is one reading of a process.
type procSample struct {
	CPU      time.Duration // utime + stime
	ChildCPU time.Duration // cutime + cstime: children it has waited for
	PPID     int
	HWM      int64 // VmHWM, bytes (peak resident set)
	RSS      int64 // VmRSS, bytes
}

// readProc reads /proc/<pid>/stat and /proc/<pid>/status.
func readProc(pid int) (procSample, error) {
	var s procSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return s, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	num := func(k int) time.Duration {
		v, _ := strconv.ParseInt(f[k], 10, 64)
		return time.Duration(v) * clockTick
	}
	s.PPID, _ = strconv.Atoi(f[1])
	s.CPU = num(11) + num(12)
	s.ChildCPU = num(13) + num(14)
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	sc := bufio.NewScanner(bytes.NewReader(st))
	for sc.Scan() {
		line := sc.Text()
		kb := func() int64 {
			fs := strings.Fields(line)
			if len(fs) < 2 {
				return 0
			}
			v, _ := strconv.ParseInt(fs[1], 10, 64)
			return v * 1024
		}
		switch {
		case strings.HasPrefix(line, "VmHWM:"):
			s.HWM = kb()
		case strings.HasPrefix(line, "VmRSS:"):
			s.RSS = kb()
		}
	}
	return s, nil
}

// treeCPU is the CPU of a process and all its descendants, living or
// reaped: for PostgreSQL, the postmaster plus its backends (a backend that
// has exited is in the postmaster's child times).
func treeCPU(root int) (time.Duration, error) {
	rs, err := readProc(root)
	if err != nil {
		return 0, err
	}
	total := rs.CPU + rs.ChildCPU
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, err := readProc(pid); err == nil {
			children[s.PPID] = append(children[s.PPID], pid)
		}
	}
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			if s, err := readProc(c); err == nil {
				total += s.CPU
			}
			walk(c)
		}
	}
	walk(root)
	return total, nil
}

// machineCPU is the busy time of all CPUs since boot (/proc/stat: every
// state but idle and iowait).
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for k, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if k == 3 || k == 4 { // idle, iowait
			continue
		}
		if k >= 8 { // guest times are already in user
			break
		}
		busy += n
	}
	return time.Duration(busy) * clockTick
}

// selfCPU is the CPU the bench process itself used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg is /proc/loadavg's first three fields.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// machine describes the host.
type machine struct {
	Cores    int
	CPUModel string
	MemTotal int64
	DiskFree int64
	DiskPath string
	Kernel   string
}

func describeMachine(dataDir string) machine {
	m := machine{Cores: runtime.NumCPU(), DiskPath: dataDir}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				_, v, _ := strings.Cut(line, ":")
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				f := strings.Fields(line)
				if len(f) >= 2 {
					v, _ := strconv.ParseInt(f[1], 10, 64)
					m.MemTotal = v * 1024
				}
			}
		}
	}
	m.DiskFree = diskFree(dataDir)
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// diskFree is the space available to us on the file system holding path
// (or its nearest existing parent).
func diskFree(path string) int64 {
	p, _ := filepath.Abs(path)
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(p, &st); err == nil {
			return int64(st.Bavail) * st.Bsize
		}
		parent := filepath.Dir(p)
		if parent == p {
			return 0
		}
		p = parent
	}
}

// dirSize is the bytes of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}
