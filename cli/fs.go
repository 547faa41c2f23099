package cli

import "os"

func statPath(p string) (os.FileInfo, error) { return os.Stat(p) }
