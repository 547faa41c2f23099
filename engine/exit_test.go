package engine

import "os"

var exit = os.Exit
