package caddymodule

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gatehouse-dev/gatehouse/internal/exportcrypt"
)

// maxPasswordLine bounds the password line read with --password-stdin.
const maxPasswordLine = 4096

func exportDecryptCmd() *cobra.Command {
	var in, out string
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "decrypt [--password-stdin] [-i <file>] [-o <file>]",
		Short: "Decrypt a password-protected export",
		Long: `Decrypts an export written with a password (AES-256-GCM, the key from
PBKDF2-HMAC-SHA256; the README's "Password-protected exports" describes the format)
from -i (default: standard input) to -o (default: standard output).

With --password-stdin the password is the first line of standard input (without its
line ending); when -i is not given, the encrypted file follows that line. Otherwise
the password is asked for on the terminal.

A wrong password or a damaged, truncated or tampered file exits 1 with the reason
and writes nothing: the plaintext goes to a temporary file (mode 0600) next to -o,
renamed to -o only once the whole file has been authenticated; for standard output
it waits in a temporary file until then.`,
		Example: `  $ gatehouse export decrypt -i acme.json.enc -o acme.json
  $ gatehouse export decrypt --password-stdin -i acme.zip.enc -o acme.zip < password.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stdin := bufio.NewReaderSize(cmd.InOrStdin(), maxPasswordLine)
			var pw []byte
			var err error
			if fromStdin {
				pw, err = readPasswordLine(stdin)
			} else {
				pw, err = promptPassword()
			}
			if err != nil {
				return err
			}
			return runExportDecrypt(stdin, cmd.OutOrStdout(), cmd.ErrOrStderr(), in, out, pw)
		},
	}
	cmd.Flags().StringVarP(&in, "input", "i", "", "the encrypted export (default: standard input)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "where to write the plaintext (default: standard output)")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	return cmd
}

// readPasswordLine reads the first line of r as the password.
func readPasswordLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("--password-stdin: the first line of standard input is longer than %d bytes", maxPasswordLine)
	case err != nil && !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("--password-stdin: reading the password: %w", err)
	}
	pw := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if len(pw) == 0 {
		return nil, errors.New("--password-stdin: the first line of standard input is empty")
	}
	return bytes.Clone(pw), nil
}

// promptPassword asks for the password on the controlling terminal (standard input
// may be the encrypted file).
func promptPassword() ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("no terminal to ask for the password (%w): use --password-stdin", err)
	}
	defer tty.Close()
	fmt.Fprint(tty, "Password: ")
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil, fmt.Errorf("reading the password from the terminal: %w", err)
	}
	if len(pw) == 0 {
		return nil, errors.New("the password is empty")
	}
	return pw, nil
}

// runExportDecrypt decrypts input (a file name, or stdin when "" or "-") to output (a
// file name, or stdout when "" or "-"). Nothing reaches output unless the whole file
// authenticates: the plaintext is spooled to a temporary file first.
func runExportDecrypt(stdin io.Reader, stdout, errw io.Writer, input, output string, password []byte) error {
	src, name := stdin, "standard input"
	if input != "" && input != "-" {
		f, err := os.Open(input)
		if err != nil {
			return fmt.Errorf("opening the encrypted export: %w", err)
		}
		defer f.Close()
		src, name = f, input
	}
	toStdout := output == "" || output == "-"
	dir, pattern := os.TempDir(), "gatehouse-decrypt-*"
	if !toStdout {
		dir, pattern = filepath.Dir(output), "."+filepath.Base(output)+".*.part"
	}
	tmp, err := os.CreateTemp(dir, pattern) // mode 0600
	if err != nil {
		return fmt.Errorf("creating the output file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	defer tmp.Close()
	n, err := decryptTo(tmp, src, password)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if toStdout {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewinding the plaintext: %w", err)
		}
		if _, err := io.Copy(stdout, tmp); err != nil {
			return fmt.Errorf("writing the plaintext: %w", err)
		}
		return nil
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", output, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", output, err)
	}
	if err := os.Rename(tmp.Name(), output); err != nil {
		return fmt.Errorf("writing %s: %w", output, err)
	}
	fmt.Fprintf(errw, "decrypted %s to %s (%d bytes)\n", name, output, n)
	return nil
}

// decryptTo decrypts and authenticates src into w.
func decryptTo(w io.Writer, src io.Reader, password []byte) (int64, error) {
	r, err := exportcrypt.NewReader(src, password)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(w, r)
	if err != nil {
		return n, fmt.Errorf("decrypting: %w", err)
	}
	return n, nil
}
