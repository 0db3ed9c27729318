package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite the outputs shown in README.md and docs/*.md that differ from what the commands print")

// A doc block is a fenced block of README.md or docs/*.md. Blocks of
// language "console" run: each line "$ COMMAND" (continued by a trailing
// backslash) is a dcor-stream command line ("dcor-stream ARGS" or "go run
// ./cmd/dcor-stream ARGS", words split as a shell would, an unquoted
// argument with * globbed, "> FILE" writing standard output to FILE), and
// the lines after it up to the next command are what it prints, standard
// output then standard error: "…" in a line matches any text, a line that
// is only "…" any number of lines, and a last line "[exit N]" the exit
// status (else 0). All blocks of one file run in order in one temporary
// directory holding testdata/ (so a later block may read what an earlier
// one wrote). Every other fenced block must say on the line above it why
// it does not run ("<!-- not run: REASON -->", or "<!-- run by FILE -->"
// when another test runs it), so that nothing shown escapes this test.
type docBlock struct {
	file       string
	line       int // of the opening fence, from 1
	lang, note string
	body       []string
}

func docFiles(t *testing.T) []string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{filepath.Join(root, "README.md")}, files...)
}

func readBlocks(t *testing.T, file string) ([]string, []docBlock) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var blocks []docBlock
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if !strings.HasPrefix(l, "```") {
			if strings.HasPrefix(l, "    $ ") || strings.HasPrefix(l, "    dcor-stream ") && !strings.Contains(l, "|") {
				t.Errorf("%s:%d: a command in an indented block: fence it (```console, or another language with a <!-- not run: … --> note)", file, i+1)
			}
			continue
		}
		blk := docBlock{file: file, line: i + 1, lang: strings.TrimSpace(l[3:])}
		if i > 0 && strings.HasPrefix(lines[i-1], "<!--") {
			blk.note = lines[i-1]
		}
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			blk.body = append(blk.body, lines[i])
		}
		blocks = append(blocks, blk)
	}
	return lines, blocks
}

// TestDocs runs every console block of README.md and docs/*.md and
// compares its output with what the command prints; see docBlock.
func TestDocs(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, file := range docFiles(t) {
		lines, blocks := readBlocks(t, file)
		dir := t.TempDir()
		if err := os.Symlink(filepath.Join(root, "testdata"), filepath.Join(dir, "testdata")); err != nil {
			t.Fatal(err)
		}
		changed := false
		for _, blk := range blocks {
			if blk.lang != "console" {
				if !strings.HasPrefix(blk.note, "<!-- not run: ") && !strings.HasPrefix(blk.note, "<!-- run by ") {
					t.Errorf("%s:%d: a ```%s block without a <!-- not run: REASON --> note", file, blk.line, blk.lang)
				}
				skipped = append(skipped, fmt.Sprintf("%s:%d %s", filepath.Base(file), blk.line, blk.note))
				continue
			}
			got := runConsole(t, dir, blk)
			if !matchLines(blk.body, got) {
				if *updateDocs {
					copy(lines[blk.line:], got) // same length: see runConsole
					changed = true
					continue
				}
				t.Errorf("%s:%d: the block shows\n%s\nthe commands print\n%s", file, blk.line, strings.Join(blk.body, "\n"), strings.Join(got, "\n"))
			}
		}
		if changed {
			if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, s := range skipped {
		t.Logf("not run: %s", s)
	}
}

// runConsole runs the commands of a console block in dir and returns the
// block as it should read: each command line as written, followed by what
// it printed. With -update-docs a block whose line count changes cannot be
// patched in place, and is reported instead.
func runConsole(t *testing.T, dir string, blk docBlock) []string {
	t.Helper()
	t.Chdir(dir)
	var out []string
	for i := 0; i < len(blk.body); {
		l := blk.body[i]
		if !strings.HasPrefix(l, "$ ") {
			t.Errorf("%s:%d: a console block must begin with a \"$ \" command line", blk.file, blk.line+1+i)
			return blk.body
		}
		cmd := strings.TrimPrefix(l, "$ ")
		out = append(out, l)
		for i++; strings.HasSuffix(cmd, "\\") && i < len(blk.body); i++ {
			cmd = strings.TrimSuffix(cmd, "\\") + " " + strings.TrimSpace(blk.body[i])
			out = append(out, blk.body[i])
		}
		for i < len(blk.body) && !strings.HasPrefix(blk.body[i], "$ ") {
			i++
		}
		out = append(out, runDocCommand(t, blk, cmd)...)
	}
	if *updateDocs && len(out) != len(blk.body) {
		t.Errorf("%s:%d: the output has %d lines, the block %d: rewrite it by hand:\n%s", blk.file, blk.line, len(out), len(blk.body), strings.Join(out, "\n"))
		return blk.body
	}
	return out
}

func runDocCommand(t *testing.T, blk docBlock, cmd string) []string {
	args, err := shellWords(cmd)
	if err != nil {
		t.Errorf("%s:%d: %s: %v", blk.file, blk.line, cmd, err)
		return nil
	}
	switch {
	case len(args) >= 1 && args[0] == "dcor-stream":
		args = args[1:]
	case len(args) >= 3 && args[0] == "go" && args[1] == "run" && args[2] == "./cmd/dcor-stream":
		args = args[3:]
	default:
		t.Errorf("%s:%d: %q: a console block runs dcor-stream commands only (mark other blocks <!-- not run: … -->)", blk.file, blk.line, cmd)
		return nil
	}
	var redirect string
	if k := slices.Index(args, ">"); k >= 0 && k == len(args)-2 {
		redirect, args = args[k+1], args[:k]
	}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, bytes.NewReader(nil), &stdout, &stderr)
	if redirect != "" {
		if err := os.WriteFile(redirect, stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout.Reset()
	}
	text := strings.TrimSuffix(stdout.String()+stderr.String(), "\n")
	var lines []string
	if text != "" {
		lines = strings.Split(text, "\n")
	}
	if code != 0 {
		lines = append(lines, fmt.Sprintf("[exit %d]", code))
	}
	return lines
}

// shellWords splits a command line as sh would for the subset the docs
// use: single and double quotes, unquoted globs expanded (left as they are
// if nothing matches), and no variables.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in, quote, glob := false, byte(0), false
	flush := func() {
		if !in {
			return
		}
		w := cur.String()
		if m, _ := filepath.Glob(w); glob && len(m) > 0 {
			words = append(words, m...)
		} else {
			words = append(words, w)
		}
		cur.Reset()
		in, glob = false, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			flush()
		case c == '$' || c == '|' || c == ';' || c == '&' || c == '`':
			return nil, fmt.Errorf("%q is not supported in a doc command", c)
		default:
			if c == '*' || c == '?' || c == '[' {
				glob = true
			}
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote")
	}
	flush()
	return words, nil
}

// matchLines reports whether got matches the pattern lines want: "…" in a
// line matches any text, a line "…" any number of lines.
func matchLines(want, got []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if want[0] == "…" {
		for k := 0; k <= len(got); k++ {
			if matchLines(want[1:], got[k:]) {
				return true
			}
		}
		return false
	}
	return len(got) > 0 && matchLine(want[0], got[0]) && matchLines(want[1:], got[1:])
}

func matchLine(want, got string) bool {
	if !strings.Contains(want, "…") {
		return want == got
	}
	parts := strings.Split(want, "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(got)
}

// TestDocsFlags: docs/cli.md has a table row for every flag of the three
// commands, and names no flag that does not exist.
func TestDocsFlags(t *testing.T) {
	b, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := strings.Split(string(b), "\n## ")
	defined := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)
	named := regexp.MustCompile("(?:^|[\\s,`(])-([a-z][a-z0-9-]*)")
	for _, cmd := range []struct{ name, heading string }{
		{"", "`dcor-stream`:"}, {"matrix", "`dcor-stream matrix`"}, {"merge", "`dcor-stream merge`"},
	} {
		var sec string
		for _, s := range sections {
			if strings.HasPrefix(s, cmd.heading) {
				sec = s
			}
		}
		if sec == "" {
			t.Errorf("docs/cli.md has no section %s", cmd.heading)
			continue
		}
		var rows strings.Builder
		for _, l := range strings.Split(sec, "\n") {
			if strings.HasPrefix(l, "| `-") {
				cell, _, _ := strings.Cut(l[2:], " | ")
				rows.WriteString(cell + "\n")
			}
		}
		args := []string{"-h"}
		if cmd.name != "" {
			args = []string{cmd.name, "-h"}
		}
		var stdout, stderr bytes.Buffer
		run(t.Context(), args, bytes.NewReader(nil), &stdout, &stderr)
		have := map[string]bool{}
		for _, m := range defined.FindAllStringSubmatch(stdout.String()+stderr.String(), -1) {
			have[m[1]] = true
		}
		if len(have) < 5 {
			t.Fatalf("dcor-stream %s -h lists %d flags", cmd.name, len(have))
		}
		documented := map[string]bool{}
		for _, m := range named.FindAllStringSubmatch(rows.String(), -1) {
			documented[m[1]] = true
			if !have[m[1]] {
				t.Errorf("docs/cli.md, %s: -%s is documented but not a flag", cmd.heading, m[1])
			}
		}
		for f := range have {
			if !documented[f] {
				t.Errorf("docs/cli.md, %s: -%s has no row", cmd.heading, f)
			}
		}
	}
}

// TestDocsLinks: every relative link of README.md and docs/*.md names a
// file that exists, and an anchor (#…) a heading or <a id> of that file.
func TestDocsLinks(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, file := range docFiles(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			full := file
			if path != "" {
				full = filepath.Join(filepath.Dir(file), path)
			}
			st, err := os.Stat(full)
			if err != nil {
				t.Errorf("%s: link %s: %v", file, target, err)
				continue
			}
			if anchor != "" && !st.IsDir() && !slices.Contains(anchors(t, full), anchor) {
				t.Errorf("%s: link %s: no such heading in %s", file, target, path)
			}
		}
	}
}

// anchors returns the GitHub anchors of a Markdown file's headings and its
// <a id="…"> tags.
func anchors(t *testing.T, file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`<a id="([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	for _, l := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(strings.TrimLeft(l, "#"), " "); ok && strings.HasPrefix(l, "#") {
			a := strings.ToLower(drop.ReplaceAllString(h, ""))
			out = append(out, strings.ReplaceAll(a, " ", "-"))
		}
	}
	return out
}
