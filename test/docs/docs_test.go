// Package docs runs the shell blocks of the README and docs/ as a newcomer would type them, in
// order, in one shell whose variables and directory carry from block to block: a
// documentation command that no longer works fails the build.
//
// A block's info string says how it runs:
//
//	```sh                        run; must succeed
//	```sh fails=TEXT             run; must fail and print TEXT (a refusal the text shows)
//	```sh background ready=TEXT  start and leave running until its output shows TEXT; stopped
//	                             with Ctrl-C (SIGINT) at the end, when it must say "Stopping"
//	                             and exit within a minute
//	```sh not-run: REASON        not run here, for the reason given (a real cluster, Azure)
//
// Other blocks (yaml, text, console output) are not commands.
package docs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var root = filepath.Join("..", "..")

// block is one fenced shell block of a document.
type block struct {
	file   string
	line   int
	mode   string // "run", "fails", "background", "not-run"
	ready  string // background: the output that says it is up
	want   string // fails: the output that says why
	reason string
	script string
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// documents are the README first, then docs/ in path order: the order a reader follows.
func documents(t *testing.T) []string {
	files := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files[1:])
	return files
}

func parse(t *testing.T, file string) []block {
	raw, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	var cur *block
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur == nil {
			if info, ok := strings.CutPrefix(trimmed, "```"); ok && info != "" {
				b, isShell, err := parseInfo(file, n, info)
				if err != nil {
					t.Error(err)
				}
				if isShell {
					cur = &b
				} else {
					cur = &block{mode: "other"}
				}
				body.Reset()
			}
			continue
		}
		if trimmed == "```" {
			if cur.mode != "other" {
				cur.script = body.String()
				out = append(out, *cur)
			}
			cur = nil
			continue
		}
		body.WriteString(line + "\n")
	}
	if cur != nil {
		t.Errorf("%s: a code block is not closed", file)
	}
	return out
}

func parseInfo(file string, line int, info string) (block, bool, error) {
	b := block{file: file, line: line, mode: "run"}
	lang, rest, _ := strings.Cut(info, " ")
	if lang != "sh" && lang != "bash" && lang != "shell" {
		return b, false, nil
	}
	rest = strings.TrimSpace(rest)
	switch {
	case rest == "":
	case strings.HasPrefix(rest, "fails="):
		b.mode, b.want = "fails", strings.TrimPrefix(rest, "fails=")
	case strings.HasPrefix(rest, "not-run:"):
		b.mode, b.reason = "not-run", strings.TrimSpace(strings.TrimPrefix(rest, "not-run:"))
		if b.reason == "" {
			return b, true, fmt.Errorf("%s: a not-run block must say why", b)
		}
	case strings.HasPrefix(rest, "background ready="):
		b.mode, b.ready = "background", strings.TrimPrefix(rest, "background ready=")
	default:
		return b, true, fmt.Errorf("%s: unknown block mode %q", b, rest)
	}
	return b, true, nil
}

// shell is the reader's terminal: each block runs in bash, and what it exported and where it
// cd'd carry to the next one.
type shell struct {
	dir   string
	env   []string
	state string // where each block leaves its environment
	bg    []*background
}

type background struct {
	b    block
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (sh *shell) command(ctx context.Context, script string, withState bool) *exec.Cmd {
	full := "set -eo pipefail\n" + script
	if withState {
		full += "\n{ env -0; printf '\\0__PWD__=%s' \"$PWD\"; } > " + sh.state + "\n"
	}
	cmd := exec.CommandContext(ctx, "bash", "-c", full)
	cmd.Dir, cmd.Env = sh.dir, sh.env
	return cmd
}

func (sh *shell) run(t *testing.T, b block) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := sh.command(ctx, b.script, b.mode == "run")
	out, err := cmd.CombinedOutput()
	switch {
	case b.mode == "run" && err != nil:
		t.Fatalf("%s failed: %v\n$ %s\n%s", b, err, strings.TrimSpace(b.script), out)
	case b.mode == "fails" && err == nil:
		t.Fatalf("%s should fail (the text shows a refusal), but succeeded:\n%s", b, out)
	case b.mode == "fails" && !strings.Contains(string(out), b.want):
		t.Fatalf("%s failed, but without saying %q:\n%s", b, b.want, out)
	}
	t.Logf("%s ok:\n%s", b, lastLines(string(out), 15))
	if b.mode == "run" {
		sh.load(t)
	}
}

// load takes the environment and directory the last block left.
func (sh *shell) load(t *testing.T) {
	raw, err := os.ReadFile(sh.state)
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for kv := range strings.SplitSeq(string(raw), "\x00") {
		if dir, ok := strings.CutPrefix(kv, "__PWD__="); ok {
			sh.dir = dir
		} else if kv != "" && !strings.HasPrefix(kv, "_=") && !strings.HasPrefix(kv, "SHLVL=") && !strings.HasPrefix(kv, "PWD=") && !strings.HasPrefix(kv, "OLDPWD=") {
			env = append(env, kv)
		}
	}
	sh.env = env
}

func (sh *shell) start(t *testing.T, b block) {
	cmd := sh.command(context.Background(), b.script, false)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so that Ctrl-C reaches make, go run and the sandbox alike.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	bg := &background{b: b, cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { bg.done <- cmd.Wait() }()
	sh.bg = append(sh.bg, bg)
	deadline := time.After(5 * time.Minute)
	for !strings.Contains(out.String(), b.ready) {
		select {
		case err := <-bg.done:
			t.Fatalf("%s exited (%v) before it printed %q:\n%s", b, err, b.ready, out)
		case <-deadline:
			t.Fatalf("%s did not print %q within 5 minutes:\n%s", b, b.ready, out)
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Logf("%s is up:\n%s", b, lastLines(out.String(), 8))
}

// interrupt sends Ctrl-C to every background block and checks each exits on its own.
func (sh *shell) interrupt(t *testing.T) {
	defer func() { sh.bg = nil }()
	for _, bg := range sh.bg {
		_ = syscall.Kill(-bg.cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-bg.done:
			// make and go run exit non-zero when interrupted, whatever the program did; what
			// the program says is the test: it saw Ctrl-C and shut down.
			if !strings.Contains(bg.out.String(), "Stopping") {
				t.Errorf("%s did not shut down on Ctrl-C (no \"Stopping\" in its output):\n%s", bg.b, lastLines(bg.out.String(), 20))
			}
		case <-time.After(time.Minute):
			_ = syscall.Kill(-bg.cmd.Process.Pid, syscall.SIGKILL)
			t.Errorf("%s was still running a minute after Ctrl-C", bg.b)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// newShell is a newcomer's shell in a clone: no Azure credentials in the environment (so
// nothing can fall back to a cloud credential), go install writing to a directory of the
// test's own that is on PATH, helm on PATH.
func newShell(t *testing.T) *shell {
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	gobin := t.TempDir()
	tools := t.TempDir()
	if helm := os.Getenv("HELM"); helm != "" {
		if err := os.Symlink(helm, filepath.Join(tools, "helm")); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AZURE_") || strings.HasPrefix(kv, "KUBECONFIG=") || strings.HasPrefix(kv, "MAKEFLAGS=") ||
			strings.HasPrefix(kv, "MAKELEVEL=") || strings.HasPrefix(kv, "MFLAGS=") || strings.HasPrefix(kv, "GOBIN=") || strings.HasPrefix(kv, "PATH=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "GOBIN="+gobin, "PATH="+gobin+":"+tools+":"+os.Getenv("PATH"))
	return &shell{dir: abs, env: env, state: filepath.Join(t.TempDir(), "state")}
}

func TestShellBlocks(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run 'make test', which provides the envtest binaries the sandbox runs")
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "sandbox", "env")); err == nil {
		t.Fatal("bin/sandbox/env exists: a sandbox is running in this clone; stop it (Ctrl-C) before running this test")
	}
	sh := newShell(t)
	defer sh.interrupt(t) // when a block fails; a second call finds nothing left to stop
	counts := map[string]int{}
	for _, file := range documents(t) {
		for _, b := range parse(t, file) {
			counts[b.mode]++
			switch b.mode {
			case "not-run":
				t.Logf("%s not run here: %s", b, b.reason)
			case "background":
				sh.start(t, b)
			default:
				sh.run(t, b)
			}
		}
	}
	t.Logf("shell blocks: %d run, %d expected to fail, %d in the background, %d not run here",
		counts["run"], counts["fails"], counts["background"], counts["not-run"])
	if counts["run"] == 0 {
		t.Fatal("no shell block ran: the documents lost their commands, or the parser its way")
	}
	sh.interrupt(t)
	if _, err := os.Stat(filepath.Join(root, "bin", "sandbox")); !os.IsNotExist(err) {
		t.Errorf("bin/sandbox is still there after the sandbox stopped (%v): its kubeconfig points at a control plane that is gone", err)
	}
}

func TestBlockModes(t *testing.T) {
	for info, want := range map[string]string{"sh": "run", "sh fails=denied": "fails", "sh not-run: needs Azure": "not-run", "sh background ready=up": "background"} {
		b, ok, err := parseInfo("x.md", 1, info)
		if !ok || err != nil || b.mode != want {
			t.Errorf("parseInfo(%q) = %+v %v %v, want mode %s", info, b, ok, err, want)
		}
	}
	for _, bad := range []string{"sh not-run:", "sh sometimes", "sh fails"} {
		if _, _, err := parseInfo("x.md", 1, bad); err == nil {
			t.Errorf("parseInfo(%q) accepted", bad)
		}
	}
	if _, ok, _ := parseInfo("x.md", 1, "yaml"); ok {
		t.Error("a yaml block is taken for a command")
	}
}
