package testimages

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// withLibraries adds to files the shared libraries bin loads, and its ELF
// interpreter, at the paths the host's dynamic linker finds them (as `ldd`
// reports), so bin runs in an image as it does on the host. The files are
// read from the host when the layer is made.
func withLibraries(files map[string]File, bin string) (map[string]File, error) {
	libs, err := sharedLibraries(bin)
	if err != nil {
		return nil, err
	}
	for _, l := range libs {
		if _, ok := files[l]; !ok {
			files[l] = File{Source: l}
		}
	}
	return files, nil
}

// sharedLibraries lists the absolute paths `ldd bin` resolves, without the
// kernel's vDSO.
func sharedLibraries(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	return parseLdd(out)
}

// parseLdd reads ldd's lines: "name => /path (0x...)" for a library found,
// "/path (0x...)" for the interpreter, "name (0x...)" for the vDSO and
// "name => not found" for a library missing on the host, an error.
func parseLdd(out []byte) ([]string, error) {
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.Contains(line, "statically linked") {
			continue
		}
		if strings.HasSuffix(line, "not found") {
			return nil, fmt.Errorf("missing shared library: %s", line)
		}
		if _, after, ok := strings.Cut(line, "=>"); ok {
			line = strings.TrimSpace(after)
		}
		p, _, _ := strings.Cut(line, " ")
		if !filepath.IsAbs(p) {
			continue // linux-vdso.so.1 has no file
		}
		libs = append(libs, p)
	}
	return libs, sc.Err()
}
